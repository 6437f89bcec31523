import { runCli, startFailed } from '../../src/cli/run-cli.js';
import { VolatileFs } from './volatile-fs.js';

// The command-line broker on a disk that forgets what was not fdatasync'ed
// when the process is killed (see volatile-fs.ts): SIGKILL is a power loss.
runCli({ storeFs: new VolatileFs() }).catch(startFailed);
