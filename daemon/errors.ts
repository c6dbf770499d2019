// One catalog of error codes. Each code says whose fault it is and whether a retry
// may help; control-socket replies carry `{code, message}` (ErrorPayload), config
// errors and the access log's `error` field the code. docs/errors.md lists them
// all, and a test checks that every code here is raised somewhere.

type Fault = 'client' | 'backend' | 'daemon';

interface CodeInfo {
  fault: Fault;
  retryable: boolean;
  doc: string;
}

export const CODES = {
  // config
  E_TOML_SYNTAX: { fault: 'client', retryable: false, doc: 'the file is not valid TOML' },
  E_FILE_READ: { fault: 'client', retryable: false, doc: 'the config file cannot be read' },
  E_UNKNOWN_KEY: { fault: 'client', retryable: false, doc: 'a key netmon does not know (often a typo)' },
  E_TYPE: { fault: 'client', retryable: false, doc: 'a value of the wrong type' },
  E_REQUIRED: { fault: 'client', retryable: false, doc: 'a required key is missing' },
  E_ADDRESS: { fault: 'client', retryable: false, doc: 'an address that is not host:port' },
  E_PORT_RANGE: { fault: 'client', retryable: false, doc: 'a port outside 1..65535 (0 allowed for bind)' },
  E_DURATION: { fault: 'client', retryable: false, doc: 'a duration that is not like "250ms", "2s", "5m"' },
  E_SIZE: {
    fault: 'client',
    retryable: false,
    doc: 'a size that is not a number of bytes or like "512B", "16KiB", "1MiB"',
  },
  E_WEIGHT_RANGE: { fault: 'client', retryable: false, doc: 'a backend weight outside 1..256' },
  E_RANGE: { fault: 'client', retryable: false, doc: 'a number outside its allowed range' },
  E_ENUM: { fault: 'client', retryable: false, doc: 'a value that is not one of the allowed words' },
  E_DUPLICATE_NAME: { fault: 'client', retryable: false, doc: 'two listeners, pools or backends share a name' },
  E_DUPLICATE_BIND: { fault: 'client', retryable: false, doc: 'two listeners bind the same address' },
  E_MISSING_POOL: {
    fault: 'client',
    retryable: false,
    doc: 'a listener or route names a pool that does not exist (or `pool = ""`)',
  },
  E_EMPTY_POOL: { fault: 'client', retryable: false, doc: 'a pool with no backends' },
  E_NO_LISTENERS: { fault: 'client', retryable: false, doc: 'the config has no listener' },
  E_LIMIT: { fault: 'client', retryable: false, doc: 'more listeners, pools or backends than `limits` allows' },
  E_REGEX: { fault: 'client', retryable: false, doc: 'an expect pattern that is not a valid regular expression' },
  E_CIDR: {
    fault: 'client',
    retryable: false,
    doc: 'a network that is not an IPv4 or IPv6 CIDR like "10.0.0.0/8" (leading zeros, host bits set, a bad prefix)',
  },
  E_CONFLICT: { fault: 'client', retryable: false, doc: 'keys that contradict each other or do not go together' },
  E_NAME: {
    fault: 'client',
    retryable: false,
    doc: 'a listener, pool or backend name with characters outside A-Z a-z 0-9 _ -',
  },
  // data plane: the access log's `error` field
  E_CONNECT_REFUSED: { fault: 'backend', retryable: true, doc: 'the backend refused the connection' },
  E_CONNECT_TIMEOUT: {
    fault: 'backend',
    retryable: true,
    doc: 'the backend did not accept within the connect timeout',
  },
  E_CONNECT_ERROR: { fault: 'backend', retryable: true, doc: 'connecting to the backend failed otherwise' },
  E_EMPTY_RESPONSE: {
    fault: 'backend',
    retryable: true,
    doc: 'the backend closed or reset the connection before sending any byte',
  },
  E_FIRST_BYTE_TIMEOUT: {
    fault: 'backend',
    retryable: true,
    doc: 'the backend sent nothing within timeouts.first_byte of the first client byte',
  },
  E_NO_BACKEND: { fault: 'daemon', retryable: true, doc: 'no eligible backend (all down, in maint or full)' },
  E_QUEUE_TIMEOUT: { fault: 'daemon', retryable: true, doc: 'waited in the queue for a free backend slot too long' },
  E_RELAY: {
    fault: 'daemon',
    retryable: true,
    doc: 'the native relay could not take a client read first by Node (out of file descriptors or memory): it was closed',
  },
  E_FD_EXHAUSTED: {
    fault: 'daemon',
    retryable: true,
    doc: 'netmon ran out of file descriptors (EMFILE/ENFILE) to connect to a backend; not counted against the backend',
  },
  // control socket
  E_BAD_REQUEST: { fault: 'client', retryable: false, doc: 'a control line that is neither a command nor valid JSON' },
  E_LINE_TOO_LONG: { fault: 'client', retryable: false, doc: 'a control line over the size limit' },
  E_LINE_TIMEOUT: {
    fault: 'client',
    retryable: true,
    doc: 'a control client did not finish a request line within 10 s of connecting or of starting it',
  },
  E_UNKNOWN_COMMAND: { fault: 'client', retryable: false, doc: 'a command the control socket does not know' },
  E_BAD_ARGUMENT: { fault: 'client', retryable: false, doc: 'a command argument that is missing or malformed' },
  E_NOT_FOUND: { fault: 'client', retryable: false, doc: 'the named listener, pool or backend does not exist' },
  E_RELOAD_FAILED: {
    fault: 'client',
    retryable: false,
    doc: 'the reloaded config is invalid; the old one keeps running',
  },
  E_TOO_MANY_CLIENTS: {
    fault: 'daemon',
    retryable: true,
    doc: 'the control socket has its maximum number of clients, none of them idle; or this idle client was closed to make room',
  },
  E_SOCKET_IN_USE: {
    fault: 'client',
    retryable: false,
    doc: 'another live daemon already answers on the control socket path',
  },
  E_SOCKET_PATH: {
    fault: 'client',
    retryable: false,
    doc: 'the control socket path cannot be used (not a socket, too long, no permission)',
  },
  E_CONTROL_CONNECT: {
    fault: 'client',
    retryable: true,
    doc: 'the control socket cannot be reached (daemon not running, permission)',
  },
  E_CONTROL_TIMEOUT: { fault: 'daemon', retryable: true, doc: 'the daemon did not answer a control request in time' },
  E_SOCKET_ACTIVATION: {
    fault: 'client',
    retryable: false,
    doc: 'LISTEN_FDS / LISTEN_FDNAMES from systemd are malformed',
  },
  E_LISTEN: {
    fault: 'client',
    retryable: false,
    doc: 'a listener cannot be opened (address in use, another program listening there, no permission); at start netmon exits, on a reload the rest of the config runs',
  },
  E_METRICS_LISTEN: {
    fault: 'client',
    retryable: false,
    doc: 'the metrics port cannot be bound (address in use, no permission)',
  },
  E_PLAN: {
    fault: 'daemon',
    retryable: false,
    doc: 'a worker could not apply a validated plan to a listener: it is not served; the start fails, a reload is applied in part',
  },
  // discovery
  E_RESOLVE: {
    fault: 'backend',
    retryable: true,
    doc: 'a backend name or SRV name did not resolve (`check-config --resolve`); the daemon keeps trying in the background',
  },
  E_ETCD: {
    fault: 'daemon',
    retryable: true,
    doc: 'etcd could not be reached, or a fleet write (`--fleet`) could not be made',
  },
  E_DISCOVERY_ENTRY: {
    fault: 'client',
    retryable: false,
    doc: 'an etcd entry that is not a backend (`{"address": "ip:port", ...}`); it is skipped and reported',
  },
  E_INTERNAL: { fault: 'daemon', retryable: true, doc: 'an unexpected failure inside netmon' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof CODES;

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

export class NetmonError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'NetmonError';
    this.code = code;
  }
  toJSON(): ErrorPayload {
    return { code: this.code, message: this.message };
  }
}

/** One config problem: which file, which key, what is wrong. */
export class ConfigError extends NetmonError {
  readonly path: string;
  line: number | undefined;
  file: string | undefined;
  constructor(code: ErrorCode, path: string, message: string, line?: number) {
    super(code, message);
    this.name = 'ConfigError';
    this.path = path;
    this.line = line;
  }
  /** "netmon.toml:12: pool.web.backend[2].weight: must be 1..256, got -4 [E_WEIGHT_RANGE]" */
  format(): string {
    const where = (this.file ?? '<config>') + (this.line !== undefined ? `:${this.line}` : '');
    const key = this.path ? `${this.path}: ` : '';
    return `${where}: ${key}${this.message} [${this.code}]`;
  }
}

/**
 * Thrown by loaders with every problem found, not just the first: up to a bound
 * (`errors`), then only counted (`omitted`), so a file of garbage costs time
 * linear in its size and an operator gets a readable list.
 */
export class ConfigErrors extends Error {
  readonly errors: ConfigError[];
  /** problems found past the reported ones */
  readonly omitted: number;
  constructor(errors: ConfigError[], omitted = 0) {
    super(configReport(errors, omitted).join('\n'));
    this.name = 'ConfigErrors';
    this.errors = errors;
    this.omitted = omitted;
  }
  /** every problem found */
  get total(): number {
    return this.errors.length + this.omitted;
  }
  /** one formatted line per reported problem, then "... and N more problems" when some were not kept */
  lines(): string[] {
    return configReport(this.errors, this.omitted);
  }
}

function configReport(errors: readonly ConfigError[], omitted: number): string[] {
  const out = errors.map((e) => e.format());
  if (omitted > 0) out.push(`... and ${omitted} more problem(s) not listed`);
  return out;
}

export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(CODES, s);
}
