import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { escapePath } from '../../src/units/escape.js';

// The real systemd-escape is the reference.
const systemdEscape = (p: string) => execFileSync('systemd-escape', ['--path', p], { encoding: 'utf8' }).trimEnd();

describe('escapePath agrees with systemd-escape --path', () => {
  for (const p of [
    '/var/tmp/kiwi_containers/hello_1.0',
    '/var/tmp/kiwi_containers/hello_1.0-config',
    '/var/tmp/kiwi_containers/library_nginx_1.27_4e368008',
    '/var/tmp/kiwi_containers/a__b--c_V1.2',
    '//var//tmp/x/',
    '/.hidden/x',
    '/a b/ü/x:y',
    '/',
  ]) {
    test(JSON.stringify(p), () => assert.equal(escapePath(p), systemdEscape(p)));
  }
});
