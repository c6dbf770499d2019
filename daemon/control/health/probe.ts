// One entry point for the checker: the probe that fits a check's type.
import { probeHttp } from './probe-http.js';
import { probeSendExpect } from './probe-send-expect.js';
import { probeTcp } from './probe-tcp.js';
import type { Probe } from './probe-types.js';

export const runProbe: Probe = (target, check, signal) => {
  switch (check.type) {
    case 'tcp':
      return probeTcp(target, check, signal);
    case 'send_expect':
      return probeSendExpect(target, check, signal);
    case 'http':
      return probeHttp(target, check, signal);
  }
};
