/**
 * `synapse`: the thin command line over the shared client module. Errors people can act
 * on print one clear message and exit with the code of DESIGN.md section 8; a stack trace
 * only with SYNAPSE_DEBUG=1.
 *
 * Start-up is kept short: the command files register their commands with commander and
 * import nothing heavy; each action imports what it uses (Temporal, the database, AWS,
 * plugin code) when it runs, so `synapse --help` loads commander and little else.
 */
import { Command, CommanderError } from 'commander';
import { SynapseError } from '../contracts/errors.js';
import { setPluginImportPreparation } from '../engine/plugin-import.js';
import { dataCommands } from './data-commands.js';
import { deploymentCommands } from './deployment-commands.js';
import { gatewayCommands } from './gateway-commands.js';
import { modelCommands } from './model-commands.js';
import { platformCommands } from './platform-commands.js';
import { pluginCommands } from './plugin-commands.js';
import { runCommands } from './run-commands.js';
import { serverCommands } from './server-commands.js';

export interface MainOptions {
  /**
   * Makes TypeScript plugin code importable (tsx and the `@synapse/sdk` alias); run once,
   * before the first plugin module is imported. The built CLI passes it (bin/synapse.mjs);
   * the CLI run from its sources has both already.
   */
  preparePluginImport?: () => Promise<void>;
}

export async function main(argv: string[], options: MainOptions = {}): Promise<void> {
  if (options.preparePluginImport) setPluginImportPreparation(options.preparePluginImport);
  quietOnClosedPipe();
  let exitCode = 0;
  const exit = (code: number) => {
    exitCode = code;
  };
  const program = new Command('synapse')
    .description('Durable ML plugins on Temporal')
    .option(
      '--data-dir <dir>',
      'where the embedded defaults keep their data (env SYNAPSE_DATA_DIR; default: the nearest .synapse folder from here up, the repository .synapse, else ~/.local/share/synapse)',
    )
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  pluginCommands(program, exit);
  platformCommands(program, exit);
  runCommands(program, exit);
  serverCommands(program, exit);
  gatewayCommands(program);
  deploymentCommands(program);
  dataCommands(program);
  modelCommands(program);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    exitCode = report(err);
  }
  await flush();
  process.exit(exitCode);
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander printed its message already; help and version are not errors.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof SynapseError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (process.env.SYNAPSE_DEBUG) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  process.stderr.write(process.env.SYNAPSE_DEBUG && err instanceof Error ? `${err.stack}\n` : '(set SYNAPSE_DEBUG=1 for details)\n');
  return 1;
}

/**
 * `synapse run logs | head`: once the reader has gone, stop quietly (exit 0, as `seq`
 * and `cat` do for head), not with an EPIPE stack trace. Other stdout errors still fail.
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`error: writing the output failed: ${err.message}\n`);
    process.exit(1);
  });
}

function flush(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}
