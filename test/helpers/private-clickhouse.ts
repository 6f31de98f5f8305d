import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A ClickHouse server of the test's own (Debian's binary, its own ports and data directory), so
 * a test may stop and start it without disturbing suites that share the machine's server.
 */
export class PrivateClickHouse {
  private child: ChildProcess | undefined;
  readonly url: string;

  private constructor(
    private readonly dir: string,
    readonly httpPort: number,
  ) {
    this.url = `http://127.0.0.1:${httpPort}`;
  }

  /** Undefined when Debian's clickhouse-server is not installed (scripts/start-clickhouse.sh installs it). */
  static create(dir: string, httpPort = 18123): PrivateClickHouse | undefined {
    if (!existsSync('/etc/clickhouse-server/config.xml') || spawnSync('sh', ['-c', 'command -v clickhouse-server']).status !== 0) return undefined;
    mkdirSync(join(dir, 'data'), { recursive: true });
    const data = `${join(dir, 'data')}/`;
    const config = readFileSync('/etc/clickhouse-server/config.xml', 'utf8')
      .replace('<http_port>8123</http_port>', `<http_port>${httpPort}</http_port>`)
      .replace('<tcp_port>9000</tcp_port>', `<tcp_port>${httpPort + 1000}</tcp_port>`)
      .replace('<interserver_http_port>9009</interserver_http_port>', `<interserver_http_port>${httpPort + 1009}</interserver_http_port>`)
      .replaceAll('/var/lib/clickhouse/', data)
      .replaceAll('/var/log/clickhouse-server/', data);
    writeFileSync(join(dir, 'config.xml'), config);
    copyFileSync('/etc/clickhouse-server/users.xml', join(dir, 'users.xml'));
    return new PrivateClickHouse(dir, httpPort);
  }

  async start(): Promise<void> {
    this.child = spawn('clickhouse-server', [`--config-file=${join(this.dir, 'config.xml')}`], { stdio: 'ignore' });
    for (let i = 0; i < 150; i++) {
      if ((await this.sql('SELECT 1').catch(() => '')).trim() === '1') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`private ClickHouse on ${this.url} did not start`);
  }

  /** kill -9: the server is gone at once, as in a crash or a network cut. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async sql(query: string): Promise<string> {
    const res = await fetch(this.url, { method: 'POST', body: query, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (!res.ok) throw new Error(text);
    return text;
  }
}
