/**
 * The GPU products `--sim-gpus` knows, with the facts the real driver reports for each: a table,
 * kept apart from the state directory's code in spec.ts.
 */

/** The facts of one GPU product, as the real driver reports them (values from captures where we have them). */
export interface SimGpuModel {
  /** The spec key, e.g. `H100-80GB`. */
  key: string;
  productName: string;
  architecture: string;
  /** What nvidia-smi reports as total (less than the marketing size: ECC and firmware carve-outs). */
  memoryTotalMiB: number;
  /** Memory the driver and firmware keep; not part of `used`, not usable by processes. */
  memoryReservedMiB: number;
  bar1TotalMiB: number;
  powerLimitW: number;
  powerMinLimitW: number;
  idlePowerW: number;
  maxGraphicsClockMHz: number;
  maxMemoryClockMHz: number;
  idleGraphicsClockMHz: number;
  computeCap: string;
  pciDeviceId: string;
  vbiosVersion: string;
  pcieGen: number;
  idleTemperatureC: number;
  /** HBM parts report a memory temperature; GDDR parts print N/A. */
  hasMemoryTemperature: boolean;
}

/**
 * The products `--sim-gpus` knows. H100, H200, L40S and A100 figures are from real captures
 * (test/fixtures/nvidia and its public/ folder); the rest from the same sources where present.
 */
export const SIM_GPU_MODELS: readonly SimGpuModel[] = [
  {
    key: 'H100-80GB',
    productName: 'NVIDIA H100 80GB HBM3',
    architecture: 'Hopper',
    memoryTotalMiB: 81559,
    memoryReservedMiB: 479,
    bar1TotalMiB: 131072,
    powerLimitW: 700,
    powerMinLimitW: 200,
    idlePowerW: 70,
    maxGraphicsClockMHz: 1980,
    maxMemoryClockMHz: 2619,
    idleGraphicsClockMHz: 345,
    computeCap: '9.0',
    pciDeviceId: '233010DE',
    vbiosVersion: '96.00.A5.00.01',
    pcieGen: 5,
    idleTemperatureC: 34,
    hasMemoryTemperature: true,
  },
  {
    key: 'H200-141GB',
    productName: 'NVIDIA H200',
    architecture: 'Hopper',
    memoryTotalMiB: 143771,
    memoryReservedMiB: 616,
    bar1TotalMiB: 262144,
    powerLimitW: 700,
    powerMinLimitW: 200,
    idlePowerW: 80,
    maxGraphicsClockMHz: 1980,
    maxMemoryClockMHz: 3201,
    idleGraphicsClockMHz: 345,
    computeCap: '9.0',
    pciDeviceId: '233510DE',
    vbiosVersion: '96.00.A5.00.1A',
    pcieGen: 5,
    idleTemperatureC: 34,
    hasMemoryTemperature: true,
  },
  {
    key: 'A100-40GB',
    productName: 'NVIDIA A100-SXM4-40GB',
    architecture: 'Ampere',
    memoryTotalMiB: 40960,
    memoryReservedMiB: 605,
    bar1TotalMiB: 65536,
    powerLimitW: 400,
    powerMinLimitW: 100,
    idlePowerW: 55,
    maxGraphicsClockMHz: 1410,
    maxMemoryClockMHz: 1215,
    idleGraphicsClockMHz: 210,
    computeCap: '8.0',
    pciDeviceId: '20B010DE',
    vbiosVersion: '92.00.36.00.02',
    pcieGen: 4,
    idleTemperatureC: 31,
    hasMemoryTemperature: true,
  },
  {
    key: 'A100-80GB',
    productName: 'NVIDIA A100-SXM4-80GB',
    architecture: 'Ampere',
    memoryTotalMiB: 81920,
    memoryReservedMiB: 869,
    bar1TotalMiB: 131072,
    powerLimitW: 400,
    powerMinLimitW: 100,
    idlePowerW: 60,
    maxGraphicsClockMHz: 1410,
    maxMemoryClockMHz: 1593,
    idleGraphicsClockMHz: 210,
    computeCap: '8.0',
    pciDeviceId: '20B210DE',
    vbiosVersion: '92.00.45.00.03',
    pcieGen: 4,
    idleTemperatureC: 32,
    hasMemoryTemperature: true,
  },
  {
    key: 'L40S-48GB',
    productName: 'NVIDIA L40S',
    architecture: 'Ada Lovelace',
    memoryTotalMiB: 46068,
    memoryReservedMiB: 609,
    bar1TotalMiB: 65536,
    powerLimitW: 350,
    powerMinLimitW: 100,
    idlePowerW: 35,
    maxGraphicsClockMHz: 2520,
    maxMemoryClockMHz: 9001,
    idleGraphicsClockMHz: 210,
    computeCap: '8.9',
    pciDeviceId: '26B910DE',
    vbiosVersion: '95.02.66.00.02',
    pcieGen: 4,
    idleTemperatureC: 28,
    hasMemoryTemperature: false,
  },
  {
    key: 'A10G-24GB',
    productName: 'NVIDIA A10G',
    architecture: 'Ampere',
    memoryTotalMiB: 23028,
    memoryReservedMiB: 435,
    bar1TotalMiB: 32768,
    powerLimitW: 300,
    powerMinLimitW: 100,
    idlePowerW: 25,
    maxGraphicsClockMHz: 1710,
    maxMemoryClockMHz: 6251,
    idleGraphicsClockMHz: 210,
    computeCap: '8.6',
    pciDeviceId: '223710DE',
    vbiosVersion: '94.02.75.00.01',
    pcieGen: 4,
    idleTemperatureC: 27,
    hasMemoryTemperature: false,
  },
  {
    key: 'T4-16GB',
    productName: 'Tesla T4',
    architecture: 'Turing',
    memoryTotalMiB: 15360,
    memoryReservedMiB: 388,
    bar1TotalMiB: 256,
    powerLimitW: 70,
    powerMinLimitW: 60,
    idlePowerW: 10,
    maxGraphicsClockMHz: 1590,
    maxMemoryClockMHz: 5001,
    idleGraphicsClockMHz: 300,
    computeCap: '7.5',
    pciDeviceId: '1EB810DE',
    vbiosVersion: '90.04.96.00.02',
    pcieGen: 3,
    idleTemperatureC: 40,
    hasMemoryTemperature: false,
  },
];
