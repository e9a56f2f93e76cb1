#!/usr/bin/env node
// Entry point for the package bin: runs the TypeScript CLI through tsx's loader,
// so the installed command and `npm run pgha` execute the same source.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli.ts');
