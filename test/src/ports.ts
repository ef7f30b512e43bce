// Free TCP ports for the child processes the tests start: below the kernel's ephemeral range, a
// slice per vitest worker (see packages/ring/src/testing/ports.ts).
export { freeTcpPort } from '@andante/ring/testing';
