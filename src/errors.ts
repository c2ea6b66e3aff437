// Every failure imgdesc reports is one of these classes. Each carries a stable
// `code` that scripts may match on; only the CLI maps codes to exit statuses.

export interface DescriptionProblem {
  /** What is wrong and what is allowed. */
  readonly message: string;
  /** Element path such as /image/containers[2]/container[1]/@tag ("" for the document). */
  readonly path: string;
  /** 1-based line in the description file, or null when no line applies. */
  readonly line: number | null;
}

export abstract class ImgdescError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Command line misuse: unknown option, missing argument. */
export class UsageError extends ImgdescError {
  readonly code = 'IMGDESC_USAGE';
}

/**
 * A value that does not follow its grammar: a reference, a platform, a digest.
 * Raised by the parsers in oci/; a caller that read the value from a file
 * wraps it into that file's error, so the message names the file. Alone
 * (a value on the command line) it is a usage error.
 */
export type ValueKind = 'REFERENCE' | 'PLATFORM' | 'DIGEST';

export class ValueFormatError extends ImgdescError {
  readonly code: string;
  constructor(
    readonly kind: ValueKind,
    readonly text: string,
    readonly why: string,
  ) {
    super(`${kind.toLowerCase()} ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)} is not valid: ${why}`);
    this.code = `IMGDESC_INVALID_${kind}`;
  }
}

export class ReferenceFormatError extends ValueFormatError {
  constructor(text: string, why: string) {
    super('REFERENCE', text, why);
  }
}

/** The description could not be found or read (wrong path, empty directory, several *.kiwi). */
export class DescriptionLoadError extends ImgdescError {
  readonly code = 'IMGDESC_DESCRIPTION_LOAD';
  constructor(message: string, readonly file: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The description was read but is not acceptable; carries every problem found. */
export class DescriptionInvalidError extends ImgdescError {
  readonly code = 'IMGDESC_DESCRIPTION_INVALID';
  constructor(readonly file: string, readonly problems: readonly DescriptionProblem[]) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the description` +
        (problems[0] ? ` (first: ${problems[0].path || '/'}: ${problems[0].message})` : ''),
    );
  }
}

/** Profile or architecture selection that the description cannot satisfy. */
export class SelectionError extends ImgdescError {
  readonly code = 'IMGDESC_SELECTION';
}

/**
 * A container source (registry, archive, layout) failed. `reason` refines the
 * code: IMGDESC_SOURCE_AUTH, _NOT_FOUND, _DIGEST, _NETWORK, _TLS, _PROTOCOL,
 * _PLATFORM, _MISSING (offline archive absent), _BLOCKED (a registries.conf
 * rule blocks the registry), _POLICY (policy.json rejects the image). All map
 * to exit 4.
 */
export type SourceReason = 'AUTH' | 'NOT_FOUND' | 'DIGEST' | 'NETWORK' | 'TLS' | 'PROTOCOL' | 'PLATFORM' | 'MISSING' | 'REGISTRY' | 'BLOCKED' | 'POLICY';

export class SourceError extends ImgdescError {
  readonly code: string;
  constructor(
    readonly reason: SourceReason,
    message: string,
    readonly reference: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = `IMGDESC_SOURCE_${reason}`;
  }
}

/**
 * Registry credentials could not be looked up: an auth file (`file`) that is
 * unreadable or malformed, or a credential helper that failed. A source
 * failure (exit 4); the registry client names the image it was for. The
 * message never holds a secret.
 */
export class CredentialError extends ImgdescError {
  readonly code = 'IMGDESC_SOURCE_AUTH';
  constructor(message: string, readonly file: string | null, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A containers configuration file (registries.conf, policy.json, a
 * registries.d file, a key file it names) that cannot be read or does not
 * follow its format. `file` is the file; the message names it and the place.
 */
export class ConfigFileError extends ImgdescError {
  readonly code = 'IMGDESC_CONFIG';
  constructor(message: string, readonly file: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Writing output (archives, units) failed. */
export class OutputError extends ImgdescError {
  readonly code = 'IMGDESC_OUTPUT';
  constructor(message: string, readonly target: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The operation was cancelled through its AbortSignal (SIGINT/SIGTERM). */
export class AbortedError extends ImgdescError {
  readonly code = 'IMGDESC_ABORTED';
  constructor(
    message: string,
    /** The signal that asked for the stop, when one did. */
    readonly signalName: NodeJS.Signals | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
