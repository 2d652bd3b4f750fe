// The image's HEALTHCHECK (Dockerfile): exit 0 when this container does its job, 1 when not.
// SYNAPSE_ROLE=gateway: GET http://127.0.0.1:<SYNAPSE_GATEWAY_PORT or 8080>/healthz answers 200.
// SYNAPSE_ROLE=worker: PID 1 is still `synapse worker` (a worker that stopped ends the container)
// and the Temporal frontend (TEMPORAL_ADDRESS) accepts connections, without which it cannot poll.
import { readFileSync } from 'node:fs';
import net from 'node:net';

const role = process.env.SYNAPSE_ROLE ?? 'worker';
const fail = (why) => {
  process.stderr.write(`unhealthy (${role}): ${why}\n`);
  process.exit(1);
};

if (role === 'gateway') {
  const port = process.env.SYNAPSE_GATEWAY_PORT ?? '8080';
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
    if (!res.ok) fail(`/healthz answered ${res.status}`);
  } catch (err) {
    fail(`/healthz: ${err.message}`);
  }
} else if (role === 'worker') {
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/1/cmdline', 'utf8').split('\0').join(' ');
  } catch (err) {
    fail(`cannot read PID 1: ${err.message}`);
  }
  if (!/\bworker\b/.test(cmdline)) fail(`PID 1 is not a worker: ${cmdline}`);
  const [host, port] = (process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233').split(/:(?=\d+$)/);
  await new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port ?? 7233), timeout: 4000 });
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail(`Temporal at ${host}:${port} did not answer`));
    socket.once('error', (err) => fail(`Temporal at ${host}:${port}: ${err.message}`));
  });
} else {
  fail(`SYNAPSE_ROLE must be worker or gateway, not ${JSON.stringify(role)}`);
}
