// The embedded default config: what `netmon daemon` runs without -c, and what the
// demo puts in front of `netmon backends --count 3 --base-port 5001`. Loopback only.
import { DEMO_CONTROL_SOCKET } from './defaults.js';

export const DEFAULT_CONFIG_TOML = `# netmon embedded default (demo) config
workers = 2
drain_timeout = "5s"

[control]
socket = "${DEMO_CONTROL_SOCKET}"

[metrics]
listen = "127.0.0.1:9469"

[log]
level = "info"
access = false

[[listener]]
name = "web"
bind = "127.0.0.1:8080"
pool = "web"
max_connections = 10000
# count protocols (the dashboard's traffic view): without routes nothing waits, the protocol is read
# from the first bytes either side sends, so a server that speaks first is not slowed
inspect_delay = "200ms"
# per-source limits, generous enough for the demo traffic; they also record the top clients
source_limits = { max_connections = 200, rate = 500, burst = 1000 }

[pool.web]
algorithm = "round_robin"
retries = 2
slow_start = "10s"
timeouts = { connect = "1s", idle = "5m" }
health = { type = "http", path = "/health", expect_status = 200, interval = "1s", timeout = "500ms", rise = 2, fall = 2 }

[[pool.web.backend]]
name = "b1"
address = "127.0.0.1:5001"
weight = 1

[[pool.web.backend]]
name = "b2"
address = "127.0.0.1:5002"
weight = 1

[[pool.web.backend]]
name = "b3"
address = "127.0.0.1:5003"
weight = 1
`;
