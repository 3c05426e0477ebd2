// The sim's nvidia-smi: the real tool's flags, output formats, error texts and exit codes (captured
// from driver 580.159.04 on an H200, see README.md), over the state directory in $TESSERA_SIM_STATE.
// Started as `bin/nvidia-smi`, so the agent's nvidia backend parses it exactly as it parses the real one.
import { stdout } from 'node:process';
import { isStopped, liveRegistrations, readGpus, stateDirFromEnv, usedMemoryMiB } from './state.mjs';

// Exit codes of the real tool (nvidia-smi(1) RETURN VALUE; 255 captured for an unknown option).
const EXIT_INVALID_ARGUMENT = 2;
const EXIT_NO_DEVICE = 6;
const EXIT_NO_DRIVER = 9;
const EXIT_UNKNOWN_OPTION = 255;

/** An error the real tool prints (to stdout, as it does) before exiting with `code`. */
class SmiError extends Error {
  constructor(text, code) {
    super(text);
    this.code = code;
  }
}

const unrecognized = (arg) =>
  new SmiError(
    `ERROR: Option ${arg} is not recognized. Please run 'nvidia-smi -h'.\n\n`,
    EXIT_UNKNOWN_OPTION,
  );
const invalidCombination = () =>
  new SmiError(
    "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n\n",
    EXIT_INVALID_ARGUMENT,
  );

// The loop interval the real tool falls back to when -lms has no usable value (measured: ~10 samples/s).
const DEFAULT_LOOP_MS = 100;

// Options that take a value, by every spelling the real tool accepts.
const VALUE_OPTIONS = new Map([
  ['-i', 'id'],
  ['--id', 'id'],
  ['--query-gpu', 'queryGpu'],
  ['--query-compute-apps', 'queryApps'],
  ['--format', 'format'],
  ['-l', 'loopS'],
  ['--loop', 'loopS'],
  ['-lms', 'loopMs'],
  ['--loop-ms', 'loopMs'],
]);
const FLAG_OPTIONS = new Map([
  ['-h', 'help'],
  ['--help', 'help'],
  ['--version', 'version'],
  ['-L', 'list'],
  ['--list-gpus', 'list'],
  ['-q', 'query'],
  ['--query', 'query'],
  ['-x', 'xml'],
  ['--xml-format', 'xml'],
]);

function parseArgs(argv) {
  const opts = { raw: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (FLAG_OPTIONS.has(name) && eq < 0) {
      opts[FLAG_OPTIONS.get(name)] = true;
      continue;
    }
    const key = VALUE_OPTIONS.get(name);
    if (key === undefined) throw unrecognized(arg);
    let value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0) {
      if (value === undefined || value.startsWith('-')) value = undefined;
      else i++;
    }
    // Captured: -lms without a usable value still loops; other options need theirs.
    if (value === undefined && key !== 'loopMs') {
      throw new SmiError(
        `ERROR: Option ${name} is missing its value. Please run 'nvidia-smi -h' for help.\n\n`,
        EXIT_INVALID_ARGUMENT,
      );
    }
    opts[key] = value;
    opts.raw[key] = arg;
  }
  return opts;
}

function loopIntervalMs(opts) {
  if ('loopMs' in opts) {
    const ms = Number(opts.loopMs);
    // Captured: `-lms` with no value or a non-number still loops, fast, rather than failing.
    return Number.isInteger(ms) && ms > 0 ? ms : DEFAULT_LOOP_MS;
  }
  if ('loopS' in opts) {
    const s = Number(opts.loopS);
    return Number.isInteger(s) && s > 0 ? s * 1000 : 5000;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// A snapshot of the simulated devices: static facts from gpus.json, live ones from the registrations.

function snapshot(state, dir, now) {
  const regs = liveRegistrations(dir);
  const gpus = state.gpus.map((g) => {
    const procs = regs.filter((r) => r.gpuUuid === g.uuid && !r.checkpointed);
    // Kernels run only in processes that are neither locked nor stopped (SIGSTOP time-slicing).
    const active = procs.filter((r) => r.cudaState === 'running' && !isStopped(r.pid));
    const util = Math.min(
      100,
      active.reduce((s, r) => s + r.utilizationPct, 0),
    );
    const usedMiB = usedMemoryMiB(g, regs);
    return { ...g, procs, util, usedMiB };
  });
  return { state, gpus, now };
}

// Derived readings: deterministic functions of utilization, so tests can predict them.
const temperature = (g) => g.temperatureC + Math.round(g.util * 0.3);
const powerDraw = (g) => g.idlePowerW + (g.powerLimitW * 0.9 - g.idlePowerW) * (g.util / 100);
const graphicsClock = (g) =>
  g.util > 0 || g.procs.length > 0 ? g.maxGraphicsClockMHz : g.idleGraphicsClockMHz;
const memoryUtil = (g) => Math.round(g.util * 0.35);

const REASON_BITS = [
  ['gpu_idle', 0x1],
  ['applications_clocks_setting', 0x2],
  ['sw_power_cap', 0x4],
  ['hw_slowdown', 0x8],
  ['sync_boost', 0x10],
  ['sw_thermal_slowdown', 0x20],
  ['hw_thermal_slowdown', 0x40],
  ['hw_power_brake_slowdown', 0x80],
  ['display_clocks_setting', 0x100],
];
function activeReasons(g) {
  const active = new Set(g.throttleReasons ?? []);
  if (g.util === 0) active.add('gpu_idle');
  return active;
}
function reasonMask(g) {
  const active = activeReasons(g);
  let mask = 0;
  for (const [name, bit] of REASON_BITS) if (active.has(name)) mask |= bit;
  return `0x${mask.toString(16).toUpperCase().padStart(16, '0')}`;
}

const pad2 = (n) => String(n).padStart(2, '0');
/** `2026/07/14 08:12:53.353`, the CSV timestamp format. */
function csvTimestamp(d) {
  return `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(
    d.getMinutes(),
  )}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
/** `Sun Nov 29 19:29:41 2026`, the XML timestamp format (C asctime). */
function xmlTimestamp(d) {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad2(
    d.getHours(),
  )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`;
}

// ---------------------------------------------------------------------------------------------------
// --query-gpu: the fields the agent and the common exporters read, with the real names, aliases and units.

const NA = null;
const watts = (w) => ({ number: w.toFixed(2) });

/** [canonical name, aliases, unit or null, value(gpu, snap)] — a null value prints `[N/A]`. */
const GPU_FIELDS = [
  ['timestamp', [], null, (_g, s) => csvTimestamp(s.now)],
  ['driver_version', [], null, (_g, s) => s.state.driverVersion],
  ['count', [], null, (_g, s) => s.state.gpus.length],
  ['name', ['gpu_name'], null, (g) => g.productName],
  ['serial', ['gpu_serial'], null, (g) => g.serial],
  ['uuid', ['gpu_uuid'], null, (g) => g.uuid],
  ['pci.bus_id', ['gpu_bus_id'], null, (g) => g.pciBusId],
  ['pci.device_id', [], null, (g) => `0x${g.pciDeviceId}`],
  ['index', [], null, (g) => g.index],
  ['persistence_mode', [], null, (g) => g.persistenceMode],
  ['vbios_version', [], null, (g) => g.vbiosVersion],
  ['fan.speed', [], '%', (g) => g.fanSpeedPct ?? NA],
  ['pstate', [], null, () => 'P0'],
  ...REASON_BITS.filter(([n]) => n !== 'display_clocks_setting').map(([name]) => [
    `clocks_event_reasons.${name}`,
    [`clocks_throttle_reasons.${name}`],
    null,
    (g) => (activeReasons(g).has(name) ? 'Active' : 'Not Active'),
  ]),
  ['clocks_event_reasons.supported', ['clocks_throttle_reasons.supported'], null, () => '0x00000000000001FF'],
  ['clocks_event_reasons.active', ['clocks_throttle_reasons.active'], null, (g) => reasonMask(g)],
  ['memory.total', [], 'MiB', (g) => g.memoryTotalMiB],
  ['memory.reserved', [], 'MiB', (g) => g.memoryReservedMiB],
  ['memory.used', [], 'MiB', (g) => g.usedMiB],
  ['memory.free', [], 'MiB', (g) => g.memoryTotalMiB - g.memoryReservedMiB - g.usedMiB],
  ['compute_mode', [], null, (g) => g.computeMode],
  ['compute_cap', [], null, (g) => g.computeCap],
  ['utilization.gpu', [], '%', (g) => g.util],
  ['utilization.memory', [], '%', (g) => memoryUtil(g)],
  ['ecc.mode.current', [], null, (g) => g.eccMode],
  ['ecc.mode.pending', [], null, (g) => g.eccMode],
  ['ecc.errors.corrected.volatile.total', [], null, (g) => g.ecc.volatileCorrected],
  ['ecc.errors.corrected.aggregate.total', [], null, (g) => g.ecc.aggregateCorrected],
  ['ecc.errors.uncorrected.volatile.total', [], null, (g) => g.ecc.volatileUncorrected],
  ['ecc.errors.uncorrected.aggregate.total', [], null, (g) => g.ecc.aggregateUncorrected],
  ['temperature.gpu', [], null, (g) => temperature(g)],
  ['temperature.memory', [], null, (g) => (g.memoryTemperatureC === null ? NA : g.memoryTemperatureC + 1)],
  ['power.draw', [], 'W', (g) => watts(powerDraw(g))],
  ['power.draw.average', ['gpu.power.draw.average'], 'W', (g) => watts(powerDraw(g))],
  ['power.draw.instant', ['gpu.power.draw.instant'], 'W', (g) => watts(powerDraw(g))],
  ['power.limit', ['gpu.power.requested_limit'], 'W', (g) => watts(g.powerLimitW)],
  ['enforced.power.limit', ['gpu.power.current_limit'], 'W', (g) => watts(g.powerLimitW)],
  ['power.default_limit', ['gpu.power.default_limit'], 'W', (g) => watts(g.powerLimitW)],
  ['power.min_limit', ['gpu.power.min_limit'], 'W', (g) => watts(g.powerMinLimitW)],
  ['power.max_limit', ['gpu.power.max_limit'], 'W', (g) => watts(g.powerLimitW)],
  ['clocks.current.graphics', ['clocks.gr'], 'MHz', (g) => graphicsClock(g)],
  ['clocks.current.sm', ['clocks.sm'], 'MHz', (g) => graphicsClock(g)],
  ['clocks.current.memory', ['clocks.mem'], 'MHz', (g) => g.maxMemoryClockMHz],
  ['clocks.max.graphics', ['clocks.max.gr'], 'MHz', (g) => g.maxGraphicsClockMHz],
  ['clocks.max.sm', [], 'MHz', (g) => g.maxGraphicsClockMHz],
  ['clocks.max.memory', ['clocks.max.mem'], 'MHz', (g) => g.maxMemoryClockMHz],
  ['mig.mode.current', [], null, () => 'Disabled'],
  ['mig.mode.pending', [], null, () => 'Disabled'],
];

/** [canonical name, aliases, unit, value(gpu, proc, snap)]. */
const APP_FIELDS = [
  ['timestamp', [], null, (_g, _p, s) => csvTimestamp(s.now)],
  ['gpu_name', [], null, (g) => g.productName],
  ['gpu_bus_id', [], null, (g) => g.pciBusId],
  ['gpu_serial', [], null, (g) => g.serial],
  ['gpu_uuid', [], null, (g) => g.uuid],
  ['pid', [], null, (_g, p) => p.pid],
  ['process_name', ['name'], null, (_g, p) => p.name],
  ['used_gpu_memory', ['used_memory'], 'MiB', (_g, p) => p.usedMemoryMiB],
];

function resolveFields(table, list) {
  const byName = new Map();
  for (const row of table) for (const n of [row[0], ...row[1]]) byName.set(n, row);
  return list.split(',').map((raw) => {
    const row = byName.get(raw.trim());
    if (row === undefined) {
      throw new SmiError(`Field "${raw.trim()}" is not a valid field to query.\n\n`, EXIT_INVALID_ARGUMENT);
    }
    return row;
  });
}

function parseFormat(text) {
  const fmt = { header: true, units: true };
  for (const token of (text ?? 'csv').split(',')) {
    if (token === 'csv') continue;
    else if (token === 'noheader') fmt.header = false;
    else if (token === 'nounits') fmt.units = false;
    else throw new SmiError('Format modifier is not recognized.\n', EXIT_INVALID_ARGUMENT);
  }
  return fmt;
}

function formatValue(value, unit, fmt) {
  if (value === null) return '[N/A]';
  const text = typeof value === 'object' ? value.number : String(value);
  return unit !== null && fmt.units ? `${text} ${unit}` : text;
}

function csvHeader(fields) {
  return `${fields.map(([name, , unit]) => (unit === null ? name : `${name} [${unit}]`)).join(', ')}\n`;
}

function gpuRows(snap, fields, fmt) {
  return snap.gpus
    .map((g) => `${fields.map(([, , unit, value]) => formatValue(value(g, snap), unit, fmt)).join(', ')}\n`)
    .join('');
}

function appRows(snap, fields, fmt) {
  let out = '';
  for (const g of snap.gpus) {
    for (const p of g.procs) {
      out += `${fields.map(([, , unit, value]) => formatValue(value(g, p, snap), unit, fmt)).join(', ')}\n`;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// -q -x: the v13 schema, element for element as driver 580 prints it for an H200 (the capture in
// test/fixtures/nvidia/), with the values of the simulated GPU.

const escapeXml = (s) =>
  String(s).replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c],
  );

function supportedClocks(g) {
  const graphics = [];
  for (let mhz = g.maxGraphicsClockMHz; mhz >= g.idleGraphicsClockMHz; mhz -= 15) graphics.push(mhz);
  const memClocks = [g.maxMemoryClockMHz, Math.round(g.maxMemoryClockMHz * 0.6875)];
  return memClocks
    .map(
      (mem) =>
        `\t\t\t<supported_mem_clock>\n\t\t\t\t<value>${mem} MHz</value>\n${graphics
          .map((mhz) => `\t\t\t\t<supported_graphics_clock>${mhz} MHz</supported_graphics_clock>\n`)
          .join('')}\t\t\t</supported_mem_clock>\n`,
    )
    .join('');
}

function processXml(p) {
  return `\t\t\t<process_info>
\t\t\t\t<gpu_instance_id>N/A</gpu_instance_id>
\t\t\t\t<compute_instance_id>N/A</compute_instance_id>
\t\t\t\t<pid>${p.pid}</pid>
\t\t\t\t<type>C</type>
\t\t\t\t<process_name>${escapeXml(p.name)}</process_name>
\t\t\t\t<used_memory>${p.usedMemoryMiB} MiB</used_memory>
\t\t\t</process_info>
`;
}

function gpuXml(g) {
  const [domain, bus, devfn] = g.pciBusId.split(':');
  const device = devfn.split('.')[0];
  const reasons = activeReasons(g);
  const reason = (name) => (reasons.has(name) ? 'Active' : 'Not Active');
  const temp = temperature(g);
  const power = powerDraw(g).toFixed(2);
  const gfx = graphicsClock(g);
  const free = g.memoryTotalMiB - g.memoryReservedMiB - g.usedMiB;
  const bar1Used = 1 + g.usedMiB;
  const memTemp = g.memoryTemperatureC === null ? 'N/A' : `${g.memoryTemperatureC + 1} C`;
  const ecc = g.ecc;
  return `\t<gpu id="${g.pciBusId}">
\t\t<product_name>${escapeXml(g.productName)}</product_name>
\t\t<product_brand>${g.productBrand}</product_brand>
\t\t<product_architecture>${g.architecture}</product_architecture>
\t\t<display_mode>Requested functionality has been deprecated</display_mode>
\t\t<display_attached>No</display_attached>
\t\t<display_active>Disabled</display_active>
\t\t<persistence_mode>${g.persistenceMode}</persistence_mode>
\t\t<addressing_mode>None</addressing_mode>
\t\t<mig_mode>
\t\t\t<current_mig>Disabled</current_mig>
\t\t\t<pending_mig>Disabled</pending_mig>
\t\t</mig_mode>
\t\t<mig_devices>
\t\t\tNone
\t\t</mig_devices>
\t\t<accounting_mode>Disabled</accounting_mode>
\t\t<accounting_mode_buffer_size>4000</accounting_mode_buffer_size>
\t\t<driver_model>
\t\t\t<current_dm>N/A</current_dm>
\t\t\t<pending_dm>N/A</pending_dm>
\t\t</driver_model>
\t\t<serial>${g.serial}</serial>
\t\t<uuid>${g.uuid}</uuid>
\t\t<pdi>0x${g.uuid.replace(/[^0-9a-f]/g, '').slice(0, 16)}</pdi>
\t\t<minor_number>${g.index}</minor_number>
\t\t<vbios_version>${g.vbiosVersion}</vbios_version>
\t\t<multigpu_board>No</multigpu_board>
\t\t<board_id>0x${(Number.parseInt(bus, 16) << 8).toString(16)}</board_id>
\t\t<board_part_number>N/A</board_part_number>
\t\t<gpu_part_number>N/A</gpu_part_number>
\t\t<gpu_fru_part_number>N/A</gpu_fru_part_number>
\t\t<platformInfo>
\t\t\t<chassis_serial_number>N/A</chassis_serial_number>
\t\t\t<slot_number>N/A</slot_number>
\t\t\t<tray_index>N/A</tray_index>
\t\t\t<host_id>N/A</host_id>
\t\t\t<peer_type>N/A</peer_type>
\t\t\t<module_id>${g.index + 1}</module_id>
\t\t\t<gpu_fabric_guid>N/A</gpu_fabric_guid>
\t\t</platformInfo>
\t\t<inforom_version>
\t\t\t<img_version>N/A</img_version>
\t\t\t<oem_object>2.1</oem_object>
\t\t\t<ecc_object>7.16</ecc_object>
\t\t\t<pwr_object>N/A</pwr_object>
\t\t</inforom_version>
\t\t<inforom_bbx_flush>
\t\t\t<latest_timestamp>N/A</latest_timestamp>
\t\t\t<latest_duration>N/A</latest_duration>
\t\t</inforom_bbx_flush>
\t\t<gpu_operation_mode>
\t\t\t<current_gom>N/A</current_gom>
\t\t\t<pending_gom>N/A</pending_gom>
\t\t</gpu_operation_mode>
\t\t<c2c_mode>Disabled</c2c_mode>
\t\t<gpu_virtualization_mode>
\t\t\t<virtualization_mode>None</virtualization_mode>
\t\t\t<host_vgpu_mode>N/A</host_vgpu_mode>
\t\t\t<vgpu_heterogeneous_mode>N/A</vgpu_heterogeneous_mode>
\t\t</gpu_virtualization_mode>
\t\t<gpu_recovery_action>None</gpu_recovery_action>
\t\t<gsp_firmware_version>${g.driverVersion}</gsp_firmware_version>
\t\t<ibmnpu>
\t\t\t<relaxed_ordering_mode>N/A</relaxed_ordering_mode>
\t\t</ibmnpu>
\t\t<pci>
\t\t\t<pci_bus>${bus}</pci_bus>
\t\t\t<pci_device>${device}</pci_device>
\t\t\t<pci_domain>${domain.slice(-4)}</pci_domain>
\t\t\t<pci_base_class>3</pci_base_class>
\t\t\t<pci_sub_class>2</pci_sub_class>
\t\t\t<pci_device_id>${g.pciDeviceId}</pci_device_id>
\t\t\t<pci_bus_id>${g.pciBusId}</pci_bus_id>
\t\t\t<pci_sub_system_id>N/A</pci_sub_system_id>
\t\t\t<pci_gpu_link_info>
\t\t\t\t<pcie_gen>
\t\t\t\t\t<max_link_gen>${g.pcieGen}</max_link_gen>
\t\t\t\t\t<current_link_gen>${g.pcieGen}</current_link_gen>
\t\t\t\t\t<device_current_link_gen>${g.pcieGen}</device_current_link_gen>
\t\t\t\t\t<max_device_link_gen>${g.pcieGen}</max_device_link_gen>
\t\t\t\t\t<max_host_link_gen>N/A</max_host_link_gen>
\t\t\t\t</pcie_gen>
\t\t\t\t<link_widths>
\t\t\t\t\t<max_link_width>16x</max_link_width>
\t\t\t\t\t<current_link_width>16x</current_link_width>
\t\t\t\t</link_widths>
\t\t\t</pci_gpu_link_info>
\t\t\t<pci_bridge_chip>
\t\t\t\t<bridge_chip_type>N/A</bridge_chip_type>
\t\t\t\t<bridge_chip_fw>N/A</bridge_chip_fw>
\t\t\t</pci_bridge_chip>
\t\t\t<replay_counter>0</replay_counter>
\t\t\t<replay_rollover_counter>0</replay_rollover_counter>
\t\t\t<tx_util>0 KB/s</tx_util>
\t\t\t<rx_util>0 KB/s</rx_util>
\t\t\t<atomic_caps_outbound>N/A</atomic_caps_outbound>
\t\t\t<atomic_caps_inbound>N/A</atomic_caps_inbound>
\t\t</pci>
\t\t<fan_speed>${g.fanSpeedPct === null ? 'N/A' : `${g.fanSpeedPct} %`}</fan_speed>
\t\t<performance_state>P0</performance_state>
\t\t<clocks_event_reasons>
\t\t\t<clocks_event_reason_gpu_idle>${reason('gpu_idle')}</clocks_event_reason_gpu_idle>
\t\t\t<clocks_event_reason_applications_clocks_setting>${reason('applications_clocks_setting')}</clocks_event_reason_applications_clocks_setting>
\t\t\t<clocks_event_reason_sw_power_cap>${reason('sw_power_cap')}</clocks_event_reason_sw_power_cap>
\t\t\t<clocks_event_reason_hw_slowdown>${reason('hw_slowdown')}</clocks_event_reason_hw_slowdown>
\t\t\t<clocks_event_reason_hw_thermal_slowdown>${reason('hw_thermal_slowdown')}</clocks_event_reason_hw_thermal_slowdown>
\t\t\t<clocks_event_reason_hw_power_brake_slowdown>${reason('hw_power_brake_slowdown')}</clocks_event_reason_hw_power_brake_slowdown>
\t\t\t<clocks_event_reason_sync_boost>${reason('sync_boost')}</clocks_event_reason_sync_boost>
\t\t\t<clocks_event_reason_sw_thermal_slowdown>${reason('sw_thermal_slowdown')}</clocks_event_reason_sw_thermal_slowdown>
\t\t\t<clocks_event_reason_display_clocks_setting>${reason('display_clocks_setting')}</clocks_event_reason_display_clocks_setting>
\t\t</clocks_event_reasons>
\t\t<clocks_event_reasons_counters>
\t\t\t<clocks_event_reasons_counters_sw_power_cap>0 us</clocks_event_reasons_counters_sw_power_cap>
\t\t\t<clocks_event_reasons_counters_sync_boost>0 us</clocks_event_reasons_counters_sync_boost>
\t\t\t<clocks_event_reasons_counters_sw_therm_slowdown>0 us</clocks_event_reasons_counters_sw_therm_slowdown>
\t\t\t<clocks_event_reasons_counters_hw_therm_slowdown>0 us</clocks_event_reasons_counters_hw_therm_slowdown>
\t\t\t<clocks_event_reasons_counters_hw_power_brake>0 us</clocks_event_reasons_counters_hw_power_brake>
\t\t</clocks_event_reasons_counters>
\t\t<sparse_operation_mode>Disabled</sparse_operation_mode>
\t\t<fb_memory_usage>
\t\t\t<total>${g.memoryTotalMiB} MiB</total>
\t\t\t<reserved>${g.memoryReservedMiB} MiB</reserved>
\t\t\t<used>${g.usedMiB} MiB</used>
\t\t\t<free>${free} MiB</free>
\t\t</fb_memory_usage>
\t\t<bar1_memory_usage>
\t\t\t<total>${g.bar1TotalMiB} MiB</total>
\t\t\t<used>${bar1Used} MiB</used>
\t\t\t<free>${g.bar1TotalMiB - bar1Used} MiB</free>
\t\t</bar1_memory_usage>
\t\t<cc_protected_memory_usage>
\t\t\t<total>0 MiB</total>
\t\t\t<used>0 MiB</used>
\t\t\t<free>0 MiB</free>
\t\t</cc_protected_memory_usage>
\t\t<compute_mode>${g.computeMode}</compute_mode>
\t\t<utilization>
\t\t\t<gpu_util>${g.util} %</gpu_util>
\t\t\t<memory_util>${memoryUtil(g)} %</memory_util>
\t\t\t<encoder_util>0 %</encoder_util>
\t\t\t<decoder_util>0 %</decoder_util>
\t\t\t<jpeg_util>0 %</jpeg_util>
\t\t\t<ofa_util>0 %</ofa_util>
\t\t</utilization>
\t\t<encoder_stats>
\t\t\t<session_count>0</session_count>
\t\t\t<average_fps>0</average_fps>
\t\t\t<average_latency>0</average_latency>
\t\t</encoder_stats>
\t\t<fbc_stats>
\t\t\t<session_count>0</session_count>
\t\t\t<average_fps>0</average_fps>
\t\t\t<average_latency>0</average_latency>
\t\t</fbc_stats>
\t\t<dram_encryption_mode>
\t\t\t<current_dram_encryption>N/A</current_dram_encryption>
\t\t\t<pending_dram_encryption>N/A</pending_dram_encryption>
\t\t</dram_encryption_mode>
\t\t<ecc_mode>
\t\t\t<current_ecc>${g.eccMode}</current_ecc>
\t\t\t<pending_ecc>${g.eccMode}</pending_ecc>
\t\t</ecc_mode>
\t\t<ecc_errors>
\t\t\t<volatile>
\t\t\t\t<sram_correctable>0</sram_correctable>
\t\t\t\t<sram_uncorrectable_parity>0</sram_uncorrectable_parity>
\t\t\t\t<sram_uncorrectable_secded>0</sram_uncorrectable_secded>
\t\t\t\t<dram_correctable>${ecc.volatileCorrected}</dram_correctable>
\t\t\t\t<dram_uncorrectable>${ecc.volatileUncorrected}</dram_uncorrectable>
\t\t\t</volatile>
\t\t\t<aggregate>
\t\t\t\t<sram_correctable>0</sram_correctable>
\t\t\t\t<sram_uncorrectable_parity>0</sram_uncorrectable_parity>
\t\t\t\t<sram_uncorrectable_secded>0</sram_uncorrectable_secded>
\t\t\t\t<dram_correctable>${ecc.aggregateCorrected}</dram_correctable>
\t\t\t\t<dram_uncorrectable>${ecc.aggregateUncorrected}</dram_uncorrectable>
\t\t\t\t<sram_threshold_exceeded>No</sram_threshold_exceeded>
\t\t\t</aggregate>
\t\t\t<aggregate_uncorrectable_sram_sources>
\t\t\t\t<sram_l2>0</sram_l2>
\t\t\t\t<sram_sm>0</sram_sm>
\t\t\t\t<sram_microcontroller>0</sram_microcontroller>
\t\t\t\t<sram_pcie>0</sram_pcie>
\t\t\t\t<sram_other>0</sram_other>
\t\t\t</aggregate_uncorrectable_sram_sources>
\t\t\t<channel_repair_pending>No</channel_repair_pending>
\t\t\t<tpc_repair_pending>No</tpc_repair_pending>
\t\t\t<unrepairable_memory>No</unrepairable_memory>
\t\t</ecc_errors>
\t\t<retired_pages>
\t\t\t<multiple_single_bit_retirement>
\t\t\t\t<retired_count>N/A</retired_count>
\t\t\t\t<retired_pagelist>N/A</retired_pagelist>
\t\t\t</multiple_single_bit_retirement>
\t\t\t<double_bit_retirement>
\t\t\t\t<retired_count>N/A</retired_count>
\t\t\t\t<retired_pagelist>N/A</retired_pagelist>
\t\t\t</double_bit_retirement>
\t\t\t<pending_blacklist>N/A</pending_blacklist>
\t\t\t<pending_retirement>N/A</pending_retirement>
\t\t</retired_pages>
\t\t<remapped_rows>
\t\t\t<remapped_row_corr>0</remapped_row_corr>
\t\t\t<remapped_row_corr_inactive>0</remapped_row_corr_inactive>
\t\t\t<remapped_row_unc>0</remapped_row_unc>
\t\t\t<remapped_row_unc_inactive>0</remapped_row_unc_inactive>
\t\t\t<remapped_row_pending>No</remapped_row_pending>
\t\t\t<remapped_row_failure>No</remapped_row_failure>
\t\t\t<row_remapper_histogram>
\t\t\t\t<row_remapper_histogram_max>2560 bank(s)</row_remapper_histogram_max>
\t\t\t\t<row_remapper_histogram_high>0 bank(s)</row_remapper_histogram_high>
\t\t\t\t<row_remapper_histogram_partial>0 bank(s)</row_remapper_histogram_partial>
\t\t\t\t<row_remapper_histogram_low>0 bank(s)</row_remapper_histogram_low>
\t\t\t\t<row_remapper_histogram_none>0 bank(s)</row_remapper_histogram_none>
\t\t\t</row_remapper_histogram>
\t\t</remapped_rows>
\t\t<temperature>
\t\t\t<gpu_temp>${temp} C</gpu_temp>
\t\t\t<gpu_temp_tlimit>${g.temperatureTLimitC - temp} C</gpu_temp_tlimit>
\t\t\t<gpu_temp_max_tlimit_threshold>${g.temperatureTLimitC - g.temperatureShutdownC} C</gpu_temp_max_tlimit_threshold>
\t\t\t<gpu_temp_slow_tlimit_threshold>${g.temperatureTLimitC - g.temperatureSlowdownC} C</gpu_temp_slow_tlimit_threshold>
\t\t\t<gpu_temp_max_gpu_tlimit_threshold>0 C</gpu_temp_max_gpu_tlimit_threshold>
\t\t\t<gpu_target_temperature>N/A</gpu_target_temperature>
\t\t\t<memory_temp>${memTemp}</memory_temp>
\t\t\t<gpu_temp_max_mem_tlimit_threshold>0 C</gpu_temp_max_mem_tlimit_threshold>
\t\t</temperature>
\t\t<supported_gpu_target_temp>
\t\t\t<gpu_target_temp_min>N/A</gpu_target_temp_min>
\t\t\t<gpu_target_temp_max>N/A</gpu_target_temp_max>
\t\t</supported_gpu_target_temp>
\t\t<gpu_power_readings>
\t\t\t<power_state>P0</power_state>
\t\t\t<average_power_draw>${power} W</average_power_draw>
\t\t\t<instant_power_draw>${power} W</instant_power_draw>
\t\t\t<current_power_limit>${g.powerLimitW.toFixed(2)} W</current_power_limit>
\t\t\t<requested_power_limit>${g.powerLimitW.toFixed(2)} W</requested_power_limit>
\t\t\t<default_power_limit>${g.powerLimitW.toFixed(2)} W</default_power_limit>
\t\t\t<min_power_limit>${g.powerMinLimitW.toFixed(2)} W</min_power_limit>
\t\t\t<max_power_limit>${g.powerLimitW.toFixed(2)} W</max_power_limit>
\t\t</gpu_power_readings>
\t\t<gpu_memory_power_readings>
\t\t\t<average_power_draw>N/A</average_power_draw>
\t\t\t<instant_power_draw>N/A</instant_power_draw>
\t\t</gpu_memory_power_readings>
\t\t<module_power_readings>
\t\t\t<power_state>P0</power_state>
\t\t\t<average_power_draw>N/A</average_power_draw>
\t\t\t<instant_power_draw>N/A</instant_power_draw>
\t\t\t<current_power_limit>N/A</current_power_limit>
\t\t\t<requested_power_limit>N/A</requested_power_limit>
\t\t\t<default_power_limit>N/A</default_power_limit>
\t\t\t<min_power_limit>N/A</min_power_limit>
\t\t\t<max_power_limit>N/A</max_power_limit>
\t\t</module_power_readings>
\t\t<power_smoothing>N/A</power_smoothing>
\t\t<power_profiles>
\t\t\t<power_profile_requested_profiles>N/A</power_profile_requested_profiles>
\t\t\t<power_profile_enforced_profiles>N/A</power_profile_enforced_profiles>
\t\t</power_profiles>
\t\t<clocks>
\t\t\t<graphics_clock>${gfx} MHz</graphics_clock>
\t\t\t<sm_clock>${gfx} MHz</sm_clock>
\t\t\t<mem_clock>${g.maxMemoryClockMHz} MHz</mem_clock>
\t\t\t<video_clock>${Math.round(gfx * 0.78)} MHz</video_clock>
\t\t</clocks>
\t\t<applications_clocks>
\t\t\t<graphics_clock>${g.maxGraphicsClockMHz} MHz</graphics_clock>
\t\t\t<mem_clock>${g.maxMemoryClockMHz} MHz</mem_clock>
\t\t</applications_clocks>
\t\t<default_applications_clocks>
\t\t\t<graphics_clock>${g.maxGraphicsClockMHz} MHz</graphics_clock>
\t\t\t<mem_clock>${g.maxMemoryClockMHz} MHz</mem_clock>
\t\t</default_applications_clocks>
\t\t<deferred_clocks>
\t\t\t<mem_clock>N/A</mem_clock>
\t\t</deferred_clocks>
\t\t<max_clocks>
\t\t\t<graphics_clock>${g.maxGraphicsClockMHz} MHz</graphics_clock>
\t\t\t<sm_clock>${g.maxGraphicsClockMHz} MHz</sm_clock>
\t\t\t<mem_clock>${g.maxMemoryClockMHz} MHz</mem_clock>
\t\t\t<video_clock>${Math.round(g.maxGraphicsClockMHz * 0.78)} MHz</video_clock>
\t\t</max_clocks>
\t\t<max_customer_boost_clocks>
\t\t\t<graphics_clock>${g.maxGraphicsClockMHz} MHz</graphics_clock>
\t\t</max_customer_boost_clocks>
\t\t<clock_policy>
\t\t\t<auto_boost>N/A</auto_boost>
\t\t\t<auto_boost_default>N/A</auto_boost_default>
\t\t</clock_policy>
\t\t<fabric>
\t\t\t<state>N/A</state>
\t\t\t<status>N/A</status>
\t\t\t<cliqueId>N/A</cliqueId>
\t\t\t<clusterUuid>N/A</clusterUuid>
\t\t\t<health>
\t\t\t\t<summary>N/A</summary>
\t\t\t\t<bandwidth>N/A</bandwidth>
\t\t\t\t<route_recovery_in_progress>N/A</route_recovery_in_progress>
\t\t\t\t<route_unhealthy>N/A</route_unhealthy>
\t\t\t\t<access_timeout_recovery>N/A</access_timeout_recovery>
\t\t\t\t<incorrect_configuration>N/A</incorrect_configuration>
\t\t\t\t<partition_assigned>N/A</partition_assigned>
\t\t\t</health>
\t\t</fabric>
\t\t<supported_clocks>
${supportedClocks(g)}\t\t</supported_clocks>
\t\t<processes>
${g.procs.map(processXml).join('')}\t\t</processes>
\t\t<accounted_processes>
\t\t</accounted_processes>
\t\t<capabilities>
\t\t\t<egm>disabled</egm>
\t\t</capabilities>
\t</gpu>
`;
}

function queryXml(snap) {
  const { state } = snap;
  return `<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v13.dtd">
<nvidia_smi_log>
\t<timestamp>${xmlTimestamp(snap.now)}</timestamp>
\t<driver_version>${state.driverVersion}</driver_version>
\t<cuda_version>${state.cudaVersion}</cuda_version>
\t<attached_gpus>${state.gpus.length}</attached_gpus>
${snap.gpus.map((g) => gpuXml({ ...g, driverVersion: state.driverVersion })).join('')}
</nvidia_smi_log>
`;
}

// ---------------------------------------------------------------------------------------------------

const HELP = `NVIDIA System Management Interface -- v%VERSION% (Tessera sim)

nvidia-smi [OPTION1 [ARG1]] [OPTION2 [ARG2]] ...

    -h,   --help                Print usage information and exit.

  LIST OPTIONS:

    -L,   --list-gpus           Display a list of GPUs connected to the system.

  SUMMARY OPTIONS:

    <no arguments>              Show a summary of GPUs connected to the system.

    [plus any of]

    -i,   --id=                 Target a specific GPU.
    -l,   --loop=               Probe until Ctrl+C at specified second interval.

  QUERY OPTIONS:

    -q,   --query               Display GPU or Unit info.

    [plus any of]

    -i,   --id=                 Target a specific GPU or Unit.
    -x,   --xml-format          Produce XML output.
    -l,   --loop=               Probe until Ctrl+C at specified second interval.

  SELECTIVE QUERY OPTIONS:

    Allows the caller to pass an explicit list of properties to query.

    [one of]

    --query-gpu                 Information about GPU.
    --query-compute-apps        List of currently active compute processes.

    [mandatory]

    --format=                   Comma separated list of format options:
                                  csv - comma separated values (MANDATORY)
                                  noheader - skip the first line with column headers
                                  nounits - don't print units for numerical values

    [plus any of]

    -i,   --id=                 Target a specific GPU or Unit.
    -l,   --loop=               Probe until Ctrl+C at specified second interval.
    -lms, --loop-ms=            Probe until Ctrl+C at specified millisecond interval.
`;

/** The summary table printed with no arguments: for people at a terminal; nothing parses it. */
function summary(snap) {
  const { state } = snap;
  const line = `+${'-'.repeat(89)}+\n`;
  const row = (text) => `| ${text.padEnd(87).slice(0, 87)} |\n`;
  let out = `${xmlTimestamp(snap.now)}\n${line}`;
  out += row(
    `NVIDIA-SMI ${state.driverVersion.padEnd(22)}Driver Version: ${state.driverVersion.padEnd(15)}CUDA Version: ${state.cudaVersion}`,
  );
  out += row(`Tessera sim: GPUs in ${stateDirFromEnv()}`);
  out += line;
  for (const g of snap.gpus) {
    const name = g.productName.padEnd(30).slice(0, 30);
    const power = `${Math.round(powerDraw(g))}W / ${g.powerLimitW}W`;
    const mem = `${g.usedMiB}MiB / ${g.memoryTotalMiB}MiB`;
    out += row(
      `${String(g.index).padStart(3)}  ${name} ${String(temperature(g)).padStart(3)}C ${power.padStart(13)} ${mem.padStart(24)} ${`${g.util}%`.padStart(5)}`,
    );
  }
  out += line;
  out += row('Processes:');
  out += row(` GPU        PID   Process name${' '.repeat(42)}GPU Memory`);
  const procs = snap.gpus.flatMap((g) => g.procs.map((p) => ({ g, p })));
  for (const { g, p } of procs) {
    out += row(
      `${String(g.index).padStart(4)} ${String(p.pid).padStart(10)}   ${p.name.padEnd(50).slice(0, 50)} ${`${p.usedMemoryMiB}MiB`.padStart(13)}`,
    );
  }
  if (procs.length === 0) out += row(' No running processes found');
  return out + line;
}

function filterGpus(state, id) {
  if (id === undefined) return state;
  const wanted = id.split(',').map((s) => s.trim());
  const gpus = state.gpus.filter((g) =>
    wanted.some((w) => w === String(g.index) || w === g.uuid || w.toLowerCase() === g.pciBusId.toLowerCase()),
  );
  if (gpus.length === 0) throw new SmiError('No devices were found\n', EXIT_NO_DEVICE);
  return { ...state, gpus };
}

function loadState() {
  const dir = stateDirFromEnv();
  const state = dir === null ? null : readGpus(dir);
  if (state === null) {
    throw new SmiError(
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n",
      EXIT_NO_DRIVER,
    );
  }
  if (state.gpus.length === 0) throw new SmiError('No devices were found\n', EXIT_NO_DEVICE);
  return { dir, state };
}

/** Writes and resolves once the data is handed to the OS, so `process.exit` cannot drop output. */
function write(text) {
  return new Promise((resolve) => {
    if (text.length === 0) resolve();
    else stdout.write(text, () => resolve());
  });
}

async function run(argv) {
  const opts = parseArgs(argv);
  if (opts.help) return write(HELP.replace('%VERSION%', '580'));
  if (opts.xml && !opts.query) {
    throw new SmiError(
      "Invalid combination of input arguments. Specify -q/--query and -x/--xml-format to run an XML query.  Please run 'nvidia-smi -h' for help.\n\n",
      EXIT_INVALID_ARGUMENT,
    );
  }
  if (opts.list && opts.query) {
    throw new SmiError(
      "ERROR: Option -q is not valid for this command. Please run 'nvidia-smi -h' for help.\n\n",
      EXIT_INVALID_ARGUMENT,
    );
  }
  const selective = 'queryGpu' in opts || 'queryApps' in opts;
  if ('format' in opts && !selective) throw unrecognized(opts.raw.format);
  if ('queryGpu' in opts && 'queryApps' in opts) throw invalidCombination();
  if (selective && opts.query) throw invalidCombination();

  // Arguments are checked before the driver is, as the real tool does.
  let render;
  if (selective) {
    const fmt = parseFormat(opts.format);
    const gpuQuery = 'queryGpu' in opts;
    const fields = gpuQuery
      ? resolveFields(GPU_FIELDS, opts.queryGpu ?? '')
      : resolveFields(APP_FIELDS, opts.queryApps ?? '');
    const rows = gpuQuery ? gpuRows : appRows;
    // Captured with -lms: the header is printed once, then only rows at each interval.
    let first = true;
    render = (snap) => {
      const head = first && fmt.header ? csvHeader(fields) : '';
      first = false;
      return head + rows(snap, fields, fmt);
    };
  } else if (opts.query) {
    if (!opts.xml) {
      throw new SmiError(
        'nvidia-smi (Tessera sim): the text form of -q is not simulated; use -q -x or --query-gpu.\n',
        EXIT_INVALID_ARGUMENT,
      );
    }
    render = queryXml;
  } else if (opts.version) {
    const { state } = loadState();
    const [major, minor] = state.driverVersion.split('.');
    return write(
      `NVIDIA-SMI version  : ${state.driverVersion}\nNVML version        : ${major}.${minor}\nDRIVER version      : ${state.driverVersion}\nCUDA Version        : ${state.cudaVersion}\n`,
    );
  } else if (opts.list) {
    render = (snap) => snap.gpus.map((g) => `GPU ${g.index}: ${g.productName} (UUID: ${g.uuid})\n`).join('');
  } else {
    render = summary;
  }

  const { dir, state } = loadState();
  let shown = filterGpus(state, opts.id);
  const once = (first) => {
    // gpus.json is read again at each tick: a stream must see a GPU turn hot or fail ECC (patchSimGpu).
    if (!first) shown = filterGpus(readGpus(dir) ?? state, opts.id);
    return write(render(snapshot(shown, dir, new Date())));
  };
  const intervalMs = loopIntervalMs(opts);
  if (intervalMs === null) return once(true);
  // Looping until killed, like the real tool: ticks keep to the start time so samples do not drift.
  const start = Date.now();
  for (let tick = 1; ; tick++) {
    await once(tick === 1);
    const wait = start + tick * intervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

// A reader that goes away (a stopped stream, `| head`) ends the loop quietly, as with the real tool.
stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1));

try {
  await run(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof SmiError)) throw e;
  await write(e.message);
  process.exitCode = e.code;
}
