/**
 * Pipelines, bind-group layouts and shader modules, created once per key and reused. The binding
 * layout of every webgrad kernel is explicit: read-only storage inputs, read-write storage outputs,
 * then one uniform (`p`), at the binding numbers the dispatcher gives.
 */
import { renderShader, type Slots } from './shader_source.js';

/** Kind of one binding: read-only storage, read-write storage, or the uniform. */
export type BindingKind = 'r' | 'w' | 'u';

export interface PipelineKey {
  shader: string;
  entry: string;
  slots?: Slots;
  overrides?: Readonly<Record<string, number>>;
  /** [binding number, kind] in binding order. */
  layout: readonly (readonly [number, BindingKind])[];
}

export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #layouts = new Map<string, GPUBindGroupLayout>();
  readonly #pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  /** Rendered sources by module key, for diagnostics and the compile test. */
  readonly sources = new Map<string, string>();

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  get size(): number {
    return this.#pipelines.size;
  }

  module(shader: string, slots: Slots = {}, label = shader): GPUShaderModule {
    const key = `${shader}|${slotKey(slots)}`;
    let m = this.#modules.get(key);
    if (!m) {
      const code = renderShader(shader, slots);
      m = this.#device.createShaderModule({ code, label });
      this.#modules.set(key, m);
      this.sources.set(key, code);
    }
    return m;
  }

  bindGroupLayout(layout: PipelineKey['layout']): GPUBindGroupLayout {
    const key = layout.map(([n, k]) => `${n}${k}`).join(',');
    let l = this.#layouts.get(key);
    if (!l) {
      l = this.#device.createBindGroupLayout({
        label: `webgrad:${key}`,
        entries: layout.map(([binding, kind]) => ({
          binding,
          visibility: 4, // GPUShaderStage.COMPUTE
          buffer: { type: kind === 'r' ? 'read-only-storage' : kind === 'w' ? 'storage' : 'uniform' },
        })),
      });
      this.#layouts.set(key, l);
    }
    return l;
  }

  get(k: PipelineKey, label: string): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const key = `${k.shader}|${k.entry}|${slotKey(k.slots ?? {})}|${slotKey(k.overrides ?? {})}|` +
      k.layout.map(([n, t]) => `${n}${t}`).join(',');
    let p = this.#pipelines.get(key);
    if (!p) {
      const layout = this.bindGroupLayout(k.layout);
      const pipeline = this.#device.createComputePipeline({
        label,
        layout: this.#device.createPipelineLayout({ bindGroupLayouts: [layout], label }),
        compute: {
          module: this.module(k.shader, k.slots, label),
          entryPoint: k.entry,
          constants: k.overrides ? { ...k.overrides } : undefined,
        },
      });
      p = { pipeline, layout };
      this.#pipelines.set(key, p);
    }
    return p;
  }
}

function slotKey(s: Readonly<Record<string, string | number>>): string {
  return Object.keys(s)
    .sort()
    .map((k) => `${k}=${s[k]}`)
    .join(';');
}
