// Starts bench/fault/provider-process.ts as a child process and talks to its control routes.
import { spawn, type ChildProcess } from 'node:child_process';
import { inheritedEnv } from '../../src/config.js';

export interface ProviderCounts {
  /** Client references of the campaign that reached the provider at least once. */
  references: number;
  rawPosts: number;
  /** Most POSTs for one reference, whatever the answer (outage 503s included). */
  maxRaw: number;
  /** Most POSTs for one reference that the provider answered other than 503 (it was up). */
  maxAnswered: number;
  rawOver1: number;
  answeredOver1: number;
}

export class ProviderControl {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(options: { port: number; apiKey: string; latencyMs: number }): Promise<ProviderControl> {
    const child = spawn(process.execPath, ['--import=tsx', 'bench/fault/provider-process.ts', '--port', String(options.port), '--latency', String(options.latencyMs)], {
      env: inheritedEnv({ SMS_PROVIDER_API_KEY: options.apiKey }),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
      child.on('exit', (code) => reject(new Error(`the fake provider exited (${code}) before listening`)));
    });
    return new ProviderControl(`http://127.0.0.1:${options.port}`, child);
  }

  async setOutage(on: boolean): Promise<void> {
    const response = await fetch(`${this.url}/control/outage?on=${on}`, { method: 'POST' });
    if (!response.ok) throw new Error(`outage switch: ${response.status}`);
  }

  async counts(campaignId: string): Promise<ProviderCounts> {
    const response = await fetch(`${this.url}/control/counts?prefix=${encodeURIComponent(`${campaignId}:`)}`);
    return (await response.json()) as ProviderCounts;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
