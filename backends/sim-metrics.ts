// Each simulated backend exposes its own Prometheus registry on GET /metrics, so
// several backends in one process never mix their series. Counters are plain
// numbers on the request path; prom-client reads them at scrape time.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface SimCounters {
  requests: number;
  errors: number;
  connectionsTotal: number;
  openConnections: number;
  bytesIn: number;
  bytesOut: number;
}

export interface SimMetrics {
  registry: Registry;
  /** one answered request: route label, status code, seconds from parse to answer */
  observe(route: string, status: number, seconds: number): void;
}

export function createSimMetrics(
  name: string,
  counters: SimCounters,
  cpu: () => number,
  memory: () => number,
): SimMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ backend: name });
  const registers = [registry];
  const responses = new Counter({
    name: 'sim_http_responses_total',
    help: 'HTTP responses by route and status code',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'sim_http_request_duration_seconds',
    help: 'time from request to the end of the answer, including simulated latency',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const gauge = (metric: string, help: string, read: () => number): void => {
    new Gauge({
      name: metric,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  const counter = (metric: string, help: string, read: () => number): void => {
    let reported = 0;
    new Counter({
      name: metric,
      help,
      registers,
      collect() {
        const now = read();
        if (now > reported) this.inc(now - reported);
        reported = now;
      },
    });
  };
  counter('sim_requests_total', 'requests (HTTP) or connections (TCP modes) served', () => counters.requests);
  counter('sim_errors_total', 'simulated errors: 500 answers or reset connections', () => counters.errors);
  counter('sim_connections_total', 'connections accepted', () => counters.connectionsTotal);
  counter('sim_received_bytes_total', 'bytes read from clients (TCP modes)', () => counters.bytesIn);
  counter('sim_sent_bytes_total', 'bytes written to clients (TCP modes)', () => counters.bytesOut);
  gauge('sim_open_connections', 'connections open now', () => counters.openConnections);
  gauge('sim_cpu_percent', 'CPU attributed to this backend, percent of one core', cpu);
  gauge('sim_memory_percent', 'process resident memory, percent of the memory limit', memory);
  return {
    registry,
    observe(route, status, seconds) {
      responses.inc({ route, code: String(status) });
      duration.observe({ route }, seconds);
    },
  };
}
