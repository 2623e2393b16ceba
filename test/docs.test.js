'use strict';
// The README's field table is generated from the zod schema: it must be current.
const assert = require('assert');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { taskFields } = require('../dist/nodes/lib/task-schema.js');

describe('docs derived from the schema', () => {
  it('README.md field table matches the schema (npm run docs)', () => {
    execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'docs.js'), '--check'], { stdio: 'pipe' });
  });
  it('lists every field of the schema', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    for (const f of taskFields()) assert.ok(readme.includes('| `' + f.path + '` |'), f.path);
  });
});
