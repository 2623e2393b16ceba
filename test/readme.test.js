'use strict';
// Facts in README.md (and the docs/ it links) checked against the package: the packed size it claims,
// the pictures and docs it links, the error codes its Troubleshooting section explains, its anchors,
// and the two commands CI and newcomers read from it. (The field table has test/docs.test.js.)
//
// Run: npx mocha --no-config --timeout 300000 test/readme.test.js   (the size check builds and packs)
const assert = require('assert/strict');
const fs = require('fs');
const path = require('path');
const { packOnce } = require('./support/real-node-red');

const ROOT = path.resolve(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const DOCS = fs.existsSync(path.join(ROOT, 'docs')) ? fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')) : [];
/** Docs written on other branches at the same time: checked once they are here, reported as pending until then. */
const IN_PARALLEL = new Set(['docs/RELIABILITY.md', 'docs/PERFORMANCE.md']);

/** The text of a "## title" section (up to the next "## "). */
function section(md, title) {
  const start = md.indexOf('\n## ' + title + '\n');
  assert.ok(start >= 0, 'README has a "## ' + title + '" section');
  const end = md.indexOf('\n## ', start + 4);
  return md.slice(start, end < 0 ? undefined : end);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces → "-". */
const slug = (heading) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

/** Markdown links and images outside code blocks: [{ image, target, file }]. */
function links(md, file) {
  const text = md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/(!?)\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => ({ image: m[1] === '!', target: m[2], file }));
}

describe('README.md facts', function () {
  it('quick start comes first with `npm ci && npm start`; CI reads `npm ci && npm test` after <!-- ci:test-command -->', function () {
    const firstCommand = /```sh\n([^\n]+)\n/.exec(README);
    assert.equal(firstCommand[1], 'npm ci && npm start');
    assert.ok(README.indexOf('## Quick start') < README.indexOf('## Install'), 'Quick start before Install');
    // the same extraction as .ci/run: the first line starting with a letter after the marker
    const after = README.split('<!-- ci:test-command -->')[1];
    assert.ok(after, 'the ci:test-command marker');
    assert.equal(
      after.split('\n').find((l) => /^[a-z]/.test(l)),
      'npm ci && npm test',
    );
  });

  it('every picture it shows exists (docs/images/, made by npm run screenshots) and is a PNG of some size', function () {
    const images = links(README, 'README.md').filter((l) => l.image);
    assert.ok(images.length >= 2, 'a flow and a dialog: ' + JSON.stringify(images));
    for (const { target } of images) {
      const file = path.join(ROOT, target);
      assert.ok(fs.existsSync(file), target + ' is missing: run npm run screenshots');
      const bytes = fs.readFileSync(file);
      assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), target + ' is a PNG');
      assert.ok(bytes.length > 10000, target + ' is not empty');
    }
  });

  it('every local link of README.md and docs/*.md resolves (files, and #anchors to headings)', function () {
    const all = [...links(README, 'README.md'), ...DOCS.flatMap((f) => links(fs.readFileSync(path.join(ROOT, 'docs', f), 'utf8'), 'docs/' + f))].filter(
      (l) => !/^[a-z]+:/i.test(l.target),
    );
    assert.ok(
      all.some((l) => l.target.startsWith('docs/')),
      'README links docs/',
    );
    const pending = [];
    for (const { target, file } of all) {
      const [rel, anchor] = target.split('#');
      const resolved = rel ? path.relative(ROOT, path.resolve(ROOT, path.dirname(file), rel)) : file;
      if (IN_PARALLEL.has(resolved) && !fs.existsSync(path.join(ROOT, resolved))) {
        pending.push(resolved);
        continue;
      }
      assert.ok(fs.existsSync(path.join(ROOT, resolved)), file + ' links ' + target + ': ' + resolved + ' does not exist');
      if (anchor && resolved.endsWith('.md')) {
        const headings = [...fs.readFileSync(path.join(ROOT, resolved), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]));
        assert.ok(headings.includes(anchor), file + ' links ' + target + ': no such heading in ' + resolved);
      }
    }
    for (const p of [...new Set(pending)]) console.log('      (pending: ' + p + ' is written on another branch; its links are checked once it is here)');
  });

  it("the Troubleshooting table explains exactly the error codes of nodes/lib/errors.ts's ERROR_CODES", function () {
    const source = fs.readFileSync(path.join(ROOT, 'nodes', 'lib', 'errors.ts'), 'utf8');
    const list = /export const ERROR_CODES = \[([\s\S]*?)\] as const/.exec(source);
    assert.ok(list, 'ERROR_CODES in errors.ts');
    const codes = [...list[1].matchAll(/^\s*'(\w+)',/gm)].map((m) => m[1]);
    assert.ok(codes.length >= 10, codes.join(', '));
    const table = [...section(README, 'Troubleshooting').matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...table].sort(), [...codes].sort(), 'codes in the Troubleshooting table vs ERROR_CODES');
    assert.equal(new Set(table).size, table.length, 'each code once');
  });

  it('has the sections a user looks for, a short Reliability summary linking docs/RELIABILITY.md, and no maintainer tables', function () {
    for (const title of [
      'Quick start',
      'Install into your Node-RED',
      'The nodes',
      'Messages',
      'Examples',
      'Home Assistant',
      'Troubleshooting',
      'Reliability',
      'Security',
    ]) {
      section(README, title);
    }
    const reliability = section(README, 'Reliability');
    assert.ok(reliability.includes('(docs/RELIABILITY.md)'));
    assert.ok(reliability.split('\n').length < 40, 'a summary; the details live in docs/RELIABILITY.md');
    assert.match(section(README, 'Home Assistant'), /\/media\b[\s\S]*\/share\b/);
    // maintainer material lives in docs/ now
    assert.doesNotMatch(README, /scorecard: P0|\| soak \||CPU per task/);
  });

  it('states the packed size within 15% of what `npm pack` makes now', async function () {
    this.timeout(300000);
    const { size } = await packOnce();
    const texts = [['README.md', README], ...DOCS.map((f) => ['docs/' + f, fs.readFileSync(path.join(ROOT, 'docs', f), 'utf8')])];
    const claims = texts.flatMap(([file, text]) => [...text.matchAll(/about (\d+) kB packed/g)].map((m) => ({ file, kB: Number(m[1]) })));
    assert.ok(
      claims.some((c) => c.file === 'README.md'),
      'README states "about N kB packed"',
    );
    for (const c of claims) {
      const off = Math.abs(c.kB * 1000 - size) / size;
      assert.ok(
        off <= 0.15,
        c.file + ' says about ' + c.kB + ' kB packed; npm pack makes ' + Math.round(size / 1000) + ' kB (' + Math.round(off * 100) + '% off)',
      );
    }
    console.log('      npm pack: ' + Math.round(size / 1000) + ' kB; claimed: ' + claims.map((c) => c.kB + ' kB in ' + c.file).join(', '));
  });
});
