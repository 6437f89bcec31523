#!/usr/bin/env node
import { runCli, startFailed } from './run-cli.js';

runCli().catch(startFailed);
