// `node --import` preload: trusts the emulator root key from WA_EMULATOR_ROOT_KEY (base64) in a separate process.
import { trustFromEnv } from './trust.js';

trustFromEnv();
