// Free TCP ports for the child processes tests start (etcd here; andante, Prometheus and the
// Collector in the top-level tests, through @andante/ring/testing).
// A port the OS hands out for port 0 lies in the kernel's ephemeral range, and until the child
// binds it any outgoing connection of any process may take it as its local port (CI saw a child
// fail with EADDRINUSE so, while the other test file running beside it opened connections). These
// ports come from below that range, each vitest worker from a slice of its own, checked free by
// binding them once, and never handed out twice by one process.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

const SLICES = 4;
const low = Math.max(11_000, ephemeralLow());
const sliceSize = Math.floor((low - 10_000) / SLICES);
const worker = (Number(process.env['VITEST_POOL_ID'] ?? 1) - 1) % SLICES;
const sliceStart = 10_000 + worker * sliceSize;
const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on, for a child process to bind. */
export async function freeTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = sliceStart + Math.floor(Math.random() * sliceSize);
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port in ${sliceStart}-${sliceStart + sliceSize - 1}`);
}
