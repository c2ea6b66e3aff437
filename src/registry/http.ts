// undici's Agent and request, loaded from their own modules. undici's index
// also loads fetch, WebSocket, EventSource, the cache stores and the mock
// agents: ~80 ms of every start, for nothing imgdesc uses. These two modules
// are what the index itself re-exports; test/registry/http.test.ts holds them
// to that, so an undici upgrade that moves them fails the suite, not a build.

import type { Agent as AgentClass, Dispatcher } from 'undici';
import UndiciAgent from 'undici/lib/dispatcher/agent.js';
import dispatcherRequest from 'undici/lib/api/api-request.js';

export const Agent = UndiciAgent;
export type Agent = AgentClass;

/** The methods the distribution API uses: reads, and the uploads of a push. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  readonly method: HttpMethod;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  readonly dispatcher: Dispatcher;
  readonly signal: AbortSignal;
}

/** undici's `request(url, options)` for an absolute URL and an explicit dispatcher. */
export function request(url: URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return dispatcherRequest.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}

export type { Dispatcher };
