'use strict';
// Message catalogs and help: every language has every en-US key and a help page per node, with the
// same placeholders and the same HTML structure; every key the editor uses exists in en-US (in the
// catalog Node-RED looks it up in). The checks are plain functions, so the last tests can prove on
// altered copies that they catch what they claim to.
const assert = require('assert');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const LOCALES = path.join(ROOT, 'locales');
const PKG = require(path.join(ROOT, 'package.json'));
const MODULE = PKG.name;
const LANGS = ['de', 'es-ES', 'fr', 'ja', 'ko', 'pt-BR', 'ru', 'zh-CN', 'zh-TW'];
// node type → the basename Node-RED uses for its catalog (locales/<lang>/<js basename>.json) and help
// (locales/<lang>/<html basename>.html): one node per set here, both basenames equal the type.
const NODE_SETS = Object.entries(PKG['node-red'].nodes).map(([type, file]) => ({ type, base: path.basename(file, '.js') }));
const EDITOR_HTML = NODE_SETS.map((s) => ({ file: path.join('nodes', s.base + '.html'), set: s.base }));
const SHARED_JS = ['resources/ovi-editor.js', 'resources/ovi-sidebar.js'];

/* ------------------------------------------------------------------ reading */

function readLocales() {
  const out = {};
  for (const lang of fs.readdirSync(LOCALES)) {
    if (!fs.statSync(path.join(LOCALES, lang)).isDirectory()) continue;
    out[lang] = { json: {}, help: {} };
    for (const f of fs.readdirSync(path.join(LOCALES, lang))) {
      const text = fs.readFileSync(path.join(LOCALES, lang, f), 'utf8');
      if (f.endsWith('.json')) out[lang].json[f.slice(0, -5)] = text;
      else if (f.endsWith('.html')) out[lang].help[f.slice(0, -5)] = text;
    }
  }
  return out;
}

/** {'a.b.c': 'text'} for every string leaf; objects only as paths. */
function leaves(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? prefix + '.' + k : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) leaves(v, p, out);
    else out[p] = v;
  }
  return out;
}

function sorted(list) {
  return [...list].sort();
}

/** Things a translation must keep verbatim: __placeholders__, Ovi's tags, ${ENV_VAR}, {{...}}, <code>. */
function protectedTokens(text) {
  if (typeof text !== 'string') return [];
  const re = /__[A-Za-z]+__|<S>|<E>|<AUDCAP>|<ENDAUDCAP>|\$\{ENV_VAR\}|\{\{\w+\}\}|<\/?code>|<\/?b>|<\/?i>/g;
  return sorted(text.match(re) || []);
}

/* ------------------------------------------------------------------ checks (pure: return problems) */

function checkCatalogs(locales, langs) {
  const problems = [];
  const en = locales['en-US'];
  if (!en) return ['no locales/en-US'];
  for (const { base } of NODE_SETS) {
    if (!en.json[base]) problems.push('en-US: no ' + base + '.json');
    if (!en.help[base]) problems.push('en-US: no ' + base + '.html');
  }
  for (const lang of langs) {
    const L = locales[lang];
    if (!L) {
      problems.push(lang + ': no locales/' + lang + ' folder');
      continue;
    }
    for (const { base } of NODE_SETS) {
      if (!en.json[base]) continue;
      if (!L.json[base]) {
        problems.push(lang + ': no ' + base + '.json');
        continue;
      }
      let enObj, obj;
      try {
        enObj = JSON.parse(en.json[base]);
        obj = JSON.parse(L.json[base]);
      } catch (e) {
        problems.push(lang + '/' + base + '.json: ' + e.message);
        continue;
      }
      const enLeaves = leaves(enObj);
      const l = leaves(obj);
      for (const [key, text] of Object.entries(enLeaves)) {
        if (!(key in l)) {
          problems.push(lang + '/' + base + '.json lacks ' + key);
          continue;
        }
        if (typeof l[key] !== typeof text) problems.push(lang + '/' + base + '.json: ' + key + ' is a ' + typeof l[key] + ', en-US has a ' + typeof text);
        else if (typeof text === 'string' && !l[key].trim()) problems.push(lang + '/' + base + '.json: ' + key + ' is empty');
        else if (JSON.stringify(protectedTokens(l[key])) !== JSON.stringify(protectedTokens(text))) {
          problems.push(
            lang + '/' + base + '.json: ' + key + ' must keep ' + protectedTokens(text).join(' ') + ' (has ' + protectedTokens(l[key]).join(' ') + ')',
          );
        }
      }
      for (const key of Object.keys(l)) if (!(key in enLeaves)) problems.push(lang + '/' + base + '.json has ' + key + ', which en-US does not (stale?)');
    }
  }
  return problems;
}

/** The block structure of a help page, its <code> and <pre> contents, its help scripts. */
function helpShape(html) {
  const blocks = (html.match(/<\/?(script|h[1-6]|p|dl|dt|dd|ul|ol|li|pre|span)\b[^>]*>/g) || []).map((t) =>
    t.replace(/\s+/g, ' ').replace(/^<(\/?\w+).*$/, '<$1>'),
  );
  const codes = sorted((html.match(/<code>[\s\S]*?<\/code>/g) || []).map((c) => c.replace(/\s+/g, ' ')));
  const pres = (html.match(/<pre>[\s\S]*?<\/pre>/g) || []).map((c) => c.replace(/\s+/g, ' '));
  const names = [...html.matchAll(/<script\s+type="text\/html"\s+data-help-name="([^"]+)"\s*>/g)].map((m) => m[1]);
  return { blocks, codes, pres, names };
}

function checkHelp(locales, langs) {
  const problems = [];
  const en = locales['en-US'];
  for (const lang of ['en-US'].concat(langs)) {
    const L = locales[lang];
    if (!L) continue;
    for (const { type, base } of NODE_SETS) {
      const html = L.help[base];
      if (!html) {
        if (lang !== 'en-US') problems.push(lang + ': no help ' + base + '.html');
        continue;
      }
      const shape = helpShape(html);
      if (shape.names.length !== 1 || shape.names[0] !== type) {
        problems.push(
          lang + '/' + base + '.html: needs exactly one <script type="text/html" data-help-name="' + type + '">, has ' + JSON.stringify(shape.names),
        );
      }
      if (lang === 'en-US' || !en.help[base]) continue;
      const ref = helpShape(en.help[base]);
      if (shape.blocks.join('') !== ref.blocks.join('')) {
        let i = 0;
        while (i < shape.blocks.length && shape.blocks[i] === ref.blocks[i]) i++;
        problems.push(lang + '/' + base + '.html: HTML structure differs from en-US at tag #' + i + ' (' + shape.blocks[i] + ' vs ' + ref.blocks[i] + ')');
      }
      const missingCodes = ref.codes.filter((c, i, a) => shape.codes.filter((x) => x === c).length < a.filter((x) => x === c).length);
      if (missingCodes.length) problems.push(lang + '/' + base + '.html: <code> changed or missing: ' + [...new Set(missingCodes)].join(' '));
      if (JSON.stringify(shape.pres) !== JSON.stringify(ref.pres)) problems.push(lang + '/' + base + '.html: <pre> blocks differ from en-US');
    }
  }
  return problems;
}

/* ------------------------------------------------------------------ keys the editor uses */

const KEY_RE = /^[A-Za-z][\w-]*(\.[\w-]+)+$/;
const SET_IDS = NODE_SETS.map((s) => s.base);

/**
 * Every message key a file uses, as {key, catalog, where}: `catalog` is the set whose en-US catalog
 * Node-RED resolves it in (the html's own set; a "module/set:key" names another), or null for a key
 * Node-RED looks up in its own core catalog (RED._ without a namespace).
 */
function usedKeys(text, file, ownSet) {
  const found = [];
  const add = (raw, how, core) => {
    let key = raw.trim();
    let catalog = ownSet;
    const ns = /^([^:]+):(.+)$/.exec(key);
    if (ns) {
      const m = new RegExp('^' + MODULE.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&') + '/([\\w-]+)$').exec(ns[1]);
      catalog = m ? m[1] : 'foreign:' + ns[1];
      key = ns[2];
    } else if (core) catalog = null;
    found.push({ key, catalog, where: file + ' (' + how + ')' });
  };
  // data-i18n="key", "[placeholder]key", "[html]key", several separated by ;
  for (const m of text.matchAll(/data-i18n\s*=\s*(["'])(.*?)\1/g)) {
    for (const part of m[2].split(';')) {
      const key = part.replace(/^\s*\[[\w-]+\]/, '').trim();
      if (key) add(key, 'data-i18n');
    }
  }
  // node._('key'), this._("key"), RED._('key'), something._(`key`) with a literal first argument
  for (const m of text.matchAll(/([\w$.\])]+)\._\(\s*(["'`])([^"'`]+)\2/g)) {
    const isRED = /(^|\.)RED$/.test(m[1]);
    add(m[3], m[1] + '._()', isRED && !m[3].includes(':'));
  }
  // any other string literal that is one of our keys: "ovi-poll.errors.x" passed to a helper, or a
  // fully qualified "module/set:key" (e.g. RED.clipboard.copyText's notification)
  for (const m of text.matchAll(/(["'])((?:[\w@/.-]+:)?[\w.-]+)\1/g)) {
    const lit = m[2];
    const bare = lit.includes(':') ? lit.split(':')[1] : lit;
    const setPrefix = bare.split('.')[0];
    const qualified = lit.startsWith(MODULE + '/');
    if (!qualified && !(KEY_RE.test(lit) && SET_IDS.includes(setPrefix))) continue;
    if (!KEY_RE.test(bare) || /\.(svg|png|gif|jpe?g|js|json|html|css)$/.test(bare)) continue; // a file name
    add(lit, 'literal');
  }
  // one entry per key and catalog (the first way it was found names it)
  const seen = new Set();
  return found.filter((k) => {
    const id = k.catalog + '|' + k.key;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function has(obj, key) {
  let o = obj;
  for (const part of key.split('.')) {
    if (o === null || typeof o !== 'object' || !Object.prototype.hasOwnProperty.call(o, part)) return false;
    o = o[part];
  }
  return typeof o === 'string' || (o !== null && typeof o === 'object');
}

function checkEditorKeys(locales, sources) {
  const problems = [];
  const en = locales['en-US'] || { json: {} };
  const catalogs = {};
  for (const [set, text] of Object.entries(en.json)) catalogs[set] = JSON.parse(text);
  for (const { file, text, set } of sources) {
    const keys = usedKeys(text, file, set);
    for (const k of keys) {
      if (k.catalog === null) {
        // RED._ without a namespace reads Node-RED's own catalog: one of ours there is a bug
        if (SET_IDS.includes(k.key.split('.')[0]))
          problems.push(k.where + ': RED._("' + k.key + '") looks in the core catalog, not ours; use node._() or "' + MODULE + '/<set>:' + k.key + '"');
        continue;
      }
      if (k.catalog && k.catalog.startsWith('foreign:')) continue;
      if (!k.catalog) {
        // a shared file (resources/): keys must say which catalog; resolve by their node prefix
        const prefix = k.key.split('.')[0];
        if (!SET_IDS.includes(prefix)) continue;
        k.catalog = prefix;
      }
      if (!catalogs[k.catalog]) problems.push(k.where + ': "' + k.key + '" would be looked up in ' + k.catalog + '.json, which en-US lacks');
      else if (!has(catalogs[k.catalog], k.key)) problems.push(k.where + ': "' + k.key + '" is not in locales/en-US/' + k.catalog + '.json');
    }
  }
  return problems;
}

function checkCategories(locales, sources) {
  // Node-RED labels a palette category by "palette.label.<category>" in the registering set's catalog
  const problems = [];
  for (const { file, text, set } of sources) {
    if (!set) continue;
    for (const m of text.matchAll(/category\s*:\s*['"]([\w-]+)['"]/g)) {
      if (m[1] === 'config') continue;
      const cat = JSON.parse(locales['en-US'].json[set] || '{}');
      if (!has(cat, 'palette.label.' + m[1])) problems.push(file + ': category "' + m[1] + '" has no palette.label.' + m[1] + ' in en-US/' + set + '.json');
    }
  }
  return problems;
}

function editorSources() {
  return EDITOR_HTML.map(({ file, set }) => ({ file, set, text: fs.readFileSync(path.join(ROOT, file), 'utf8') })).concat(
    SHARED_JS.map((file) => ({ file, set: null, text: fs.readFileSync(path.join(ROOT, file), 'utf8') })),
  );
}

/* ------------------------------------------------------------------ tests */

describe('i18n: message catalogs and help', function () {
  const locales = readLocales();
  const sources = editorSources();

  it('has en-US and all nine translations', function () {
    for (const lang of ['en-US'].concat(LANGS)) assert.ok(locales[lang], 'missing locales/' + lang);
  });

  it('every language has every en-US key (deep), with the same placeholders, tags and no stale keys', function () {
    const problems = checkCatalogs(locales, LANGS);
    assert.deepStrictEqual(problems, []);
  });

  it("every language has a help page per node, with its data-help-name and en-US's HTML structure and <code>", function () {
    const problems = checkHelp(locales, LANGS);
    assert.deepStrictEqual(problems, []);
  });

  it('every key used in nodes/*.html and resources/ovi-editor.js exists in the en-US catalog Node-RED looks in', function () {
    const total = sources.reduce((n, s) => n + usedKeys(s.text, s.file, s.set).length, 0);
    assert.ok(total > 150, 'the key scan found only ' + total + ' keys: is it still reading the editor files?');
    assert.deepStrictEqual(checkEditorKeys(locales, sources), []);
    assert.deepStrictEqual(checkCategories(locales, sources), []);
  });

  describe('the checks can fail', function () {
    function clone(l) {
      return JSON.parse(JSON.stringify(l));
    }
    function withoutKey(jsonText, dotted) {
      const obj = JSON.parse(jsonText);
      const parts = dotted.split('.');
      const last = parts.pop();
      delete parts.reduce((o, p) => o[p], obj)[last];
      return JSON.stringify(obj);
    }

    it('a key deleted from a translation is reported', function () {
      const l = clone(locales);
      l.de.json['ovi-submit'] = withoutKey(l.de.json['ovi-submit'], 'ovi-submit.tabs.accelerator');
      assert.deepStrictEqual(checkCatalogs(l, LANGS), ['de/ovi-submit.json lacks ovi-submit.tabs.accelerator']);
    });

    it('a lost placeholder or tag in a translation is reported', function () {
      const l = clone(locales);
      const obj = JSON.parse(l.fr.json['ovi-config']);
      obj['ovi-config'].test.unreachable = 'Impossible de joindre le point d’accès.';
      l.fr.json['ovi-config'] = JSON.stringify(obj);
      const p = checkCatalogs(l, LANGS);
      assert.strictEqual(p.length, 1, p.join('\n'));
      assert.match(p[0], /fr\/ovi-config\.json: ovi-config\.test\.unreachable must keep __endpoint__/);
    });

    it('a missing help page, a wrong data-help-name and a changed structure are reported', function () {
      const l = clone(locales);
      delete l.ja.help['ovi-poll'];
      l.ko.help['ovi-webhook'] = l.ko.help['ovi-webhook'].replace('data-help-name="ovi-webhook"', 'data-help-name="ovi-hook"');
      l.ru.help['ovi-config'] = l.ru.help['ovi-config'].replace('<h3>', '<h4>').replace('</h3>', '</h4>');
      const p = checkHelp(l, LANGS).join('\n');
      assert.match(p, /ja: no help ovi-poll\.html/);
      assert.match(p, /ko\/ovi-webhook\.html: needs exactly one <script type="text\/html" data-help-name="ovi-webhook">/);
      assert.match(p, /ru\/ovi-config\.html: HTML structure differs/);
    });

    it('a key deleted from en-US is reported where the editor uses it', function () {
      const l = clone(locales);
      l['en-US'].json['ovi-poll'] = withoutKey(l['en-US'].json['ovi-poll'], 'ovi-poll.errors.filePathMissing');
      l['en-US'].json['ovi-webhook'] = withoutKey(l['en-US'].json['ovi-webhook'], 'ovi-webhook.url.copied');
      l['en-US'].json['ovi-submit'] = withoutKey(l['en-US'].json['ovi-submit'], 'ovi-submit.prompt.speechPlaceholder');
      const p = checkEditorKeys(l, sources).join('\n');
      assert.match(p, /nodes\/ovi-poll\.html \(literal\): "ovi-poll\.errors\.filePathMissing" is not in/);
      assert.match(p, /nodes\/ovi-webhook\.html \(literal\): "ovi-webhook\.url\.copied" is not in/);
      assert.match(p, /nodes\/ovi-submit\.html \(data-i18n\): "ovi-submit\.prompt\.speechPlaceholder" is not in/);
    });

    it('keys are resolved in the catalog of the html that uses them, as Node-RED does', function () {
      const src = [
        {
          file: 'nodes/ovi-poll.html',
          set: 'ovi-poll',
          text:
            '<span data-i18n="ovi-submit.tabs.core"></span><input data-i18n="[placeholder]ovi-poll.label.name;[title]ovi-poll.nope">' +
            '<script>node._("ovi-poll.label.output"); this._(\'ovi-poll.gone.key\'); RED._("ovi-poll.label.name"); RED._("common.label.name");' +
            ' RED._("' +
            MODULE +
            '/ovi-config:ovi-config.test.ok"); x("' +
            MODULE +
            '/ovi-config:ovi-config.test.missing");</script>',
        },
      ];
      const p = checkEditorKeys(locales, src);
      assert.deepStrictEqual(
        sorted(p),
        sorted([
          'nodes/ovi-poll.html (data-i18n): "ovi-submit.tabs.core" is not in locales/en-US/ovi-poll.json',
          'nodes/ovi-poll.html (data-i18n): "ovi-poll.nope" is not in locales/en-US/ovi-poll.json',
          'nodes/ovi-poll.html (this._()): "ovi-poll.gone.key" is not in locales/en-US/ovi-poll.json',
          'nodes/ovi-poll.html (RED._()): RED._("ovi-poll.label.name") looks in the core catalog, not ours; use node._() or "' +
            MODULE +
            '/<set>:ovi-poll.label.name"',
          'nodes/ovi-poll.html (literal): "ovi-config.test.missing" is not in locales/en-US/ovi-config.json',
        ]),
      );
    });
  });
});
