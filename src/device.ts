/**
 * Device acquisition: `navigator.gpu` where it exists (browsers), else a provider registered by the
 * Node entry (Dawn, the `webgpu` npm package). Requests the adapter's limits and the optional
 * features webgrad uses, and describes the adapter (identity, subgroup size, kernel strategy).
 */

/** Which family of hot kernels to use: CPU-SIMD for software adapters, workgroup tiling for GPUs. */
export type Strategy = 'cpu-simd' | 'gpu';

/** What webgrad knows about the adapter it runs on. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters (lavapipe, SwiftShader). */
  isFallbackAdapter: boolean;
  /** Subgroup size range; 0 when the adapter does not report it. */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** Where the GPU object came from: the browser's `navigator.gpu` or Dawn in Node. */
  backend: 'browser' | 'dawn';
}

/** Optional features requested when the adapter offers them. */
export const WANTED_FEATURES = ['subgroups', 'subgroup-size-control', 'shader-f16', 'timestamp-query'] as const;

/** Limits raised to the adapter's maximum. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The object a device provider returns: a `GPU` plus anything that must stay referenced with it. */
export interface GpuProvider {
  name: 'browser' | 'dawn';
  /** Returns the GPU entry object, or undefined when this provider cannot give one. */
  gpu(): Promise<GPU | undefined>;
}

let nodeProvider: GpuProvider | null = null;

/** Registers the Node provider (Dawn). Called by the Node entry; browsers never need it. */
export function registerGpuProvider(p: GpuProvider): void {
  nodeProvider = p;
}

/** The message of the error thrown when no adapter can be found. */
export const NO_ADAPTER_HELP =
  'webgrad: no WebGPU adapter found. ' +
  'In Node, Dawn (the `webgpu` npm package) needs a Vulkan driver: on a machine without a GPU install ' +
  "Mesa's lavapipe >= 23 (Debian 12: `sudo bash scripts/setup.sh`, which takes mesa-vulkan-drivers from " +
  'bookworm-backports), or a GPU driver; VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json pins lavapipe. ' +
  'In a browser, use one with WebGPU enabled (Chromium: --enable-unsafe-webgpu on Linux) from a secure context.';

/** Options of {@link acquireDevice}. */
export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Force a kernel strategy instead of choosing one from the adapter. */
  strategy?: Strategy;
}

/** A device ready for webgrad, with its adapter's description and the chosen strategy. */
export interface AcquiredDevice {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterDescription;
  features: ReadonlySet<string>;
  strategy: Strategy;
  /** Subgroup size the CPU-SIMD kernels assume (0 without the `subgroups` feature). */
  subgroupSize: number;
}

async function findGpu(): Promise<{ gpu: GPU; backend: 'browser' | 'dawn' } | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, backend: 'browser' };
  if (nodeProvider) {
    const gpu = await nodeProvider.gpu();
    if (gpu) return { gpu, backend: nodeProvider.name };
  }
  return undefined;
}

/** True for adapters that run shaders on the CPU (lavapipe/llvmpipe, SwiftShader). */
export function isCpuAdapter(info: AdapterDescription): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/.test(text);
}

/** Finds an adapter and creates a device; throws {@link NO_ADAPTER_HELP} when there is none. */
export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const found = await findGpu();
  if (!found) throw new Error(NO_ADAPTER_HELP);
  const adapter = await found.gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);

  const ai = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  const info: AdapterDescription = {
    vendor: ai.vendor ?? '',
    architecture: ai.architecture ?? '',
    device: ai.device ?? '',
    description: ai.description ?? '',
    isFallbackAdapter: !!(ai.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    subgroupMinSize: ai.subgroupMinSize ?? 0,
    subgroupMaxSize: ai.subgroupMaxSize ?? 0,
    backend: found.backend,
  };
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'webgrad' });
  const features = new Set<string>([...device.features]);
  const subgroupSize = features.has('subgroups') ? info.subgroupMinSize : 0;
  const auto: Strategy = isCpuAdapter(info) && subgroupSize > 0 ? 'cpu-simd' : 'gpu';
  const strategy = opts.strategy ?? auto;
  if (strategy === 'cpu-simd' && subgroupSize === 0) {
    throw new Error("webgrad: strategy 'cpu-simd' needs the 'subgroups' feature, which this adapter does not offer");
  }
  return { gpu: found.gpu, adapter, device, info, features, strategy, subgroupSize };
}

/** One line describing the adapter, as printed by the tests and the CLI. */
export function describeAdapter(d: Pick<AcquiredDevice, 'info' | 'features' | 'strategy' | 'subgroupSize'>): string {
  const i = d.info;
  const name = [i.vendor, i.architecture, i.device].filter(Boolean).join(' / ');
  const f = [...d.features].filter((x) => (WANTED_FEATURES as readonly string[]).includes(x)).join(',');
  return `webgrad adapter: ${name} (${i.description || 'no description'}; ${i.backend}; ` +
    `subgroup ${i.subgroupMinSize}-${i.subgroupMaxSize}; features ${f || 'none'}; strategy ${d.strategy})`;
}
