// The host probe: reads the node's facts through systeminformation and prints them as one JSON line,
// then exits. Run as a child of the agent (agent/host/facts.ts) so the library's code, loaded for one
// read at start, never stays in the resident daemon's memory. Plain JS: it runs as it is from
// sources and from the build alike.
import si from 'systeminformation';

const settle = (p) =>
  p.then(
    (v) => v,
    () => null,
  );
const [osInfo, cpu, mem, ifaces] = await Promise.all([
  settle(si.osInfo()),
  settle(si.cpu()),
  settle(si.mem()),
  settle(si.networkInterfaces()),
]);
const list = ifaces === null ? [] : Array.isArray(ifaces) ? ifaces : [ifaces];
process.stdout.write(
  `${JSON.stringify({
    hostname: osInfo?.hostname ?? null,
    distro: [osInfo?.distro, osInfo?.release].filter((s) => typeof s === 'string' && s !== '').join(' '),
    kernel: osInfo?.kernel ?? null,
    arch: osInfo?.arch ?? null,
    cpuModel: [cpu?.manufacturer, cpu?.brand].filter((s) => typeof s === 'string' && s !== '').join(' '),
    cores: cpu?.cores ?? null,
    physicalCores: cpu?.physicalCores ?? null,
    memoryBytes: mem?.total ?? null,
    interfaces: list.map((i) => ({ ip4: i.ip4, internal: i.internal, operstate: i.operstate })),
  })}\n`,
);
