/*
 * The "Ovi" sidebar tab (hand-written; loaded once by nodes/ovi-config.html from
 * resources/node-red-contrib-runware-ovi/ovi-sidebar.js). For every deployed account (ovi-config
 * node): the jobs in flight, the last results with a small player, the failures, the cost.
 *
 * Fed like Node-RED's debug sidebar: the runtime publishes each account's changes on
 * `ovi/jobs/<config id>` (RED.comms, at most one message per account per ~300 ms); an editor that
 * opens, reconnects or misses a message (its `seq` jumps) reloads everything from GET ovi/jobs.
 * Nothing runs while the tab is hidden but the bookkeeping; the one-second clock for elapsed times
 * runs only while the tab shows jobs in flight.
 */
(function () {
  'use strict';
  if (window.OVI_SIDEBAR || !window.RED || !RED.sidebar) return;
  window.OVI_SIDEBAR = true;

  var MODULE = 'node-red-contrib-runware-ovi';
  var TOPIC = 'ovi/jobs/+';
  var TAB = 'ovi';
  /** Results that get a player at once; older ones get one on a click (each player loads its clip). */
  var PLAYERS = 12;

  function t(key, subs) {
    return RED._(MODULE + '/ovi-config:' + key, subs);
  }

  /* ------------------------------------------------------------------ model */

  var accounts = {}; // id → account (see fresh())
  var loading = false;
  var reloadAgain = false;
  var early = []; // messages that arrived while a snapshot was on its way
  var problem = null; // text shown instead of the accounts (no permission, load failed)

  function fresh(msg) {
    return { id: msg.id, epoch: msg.epoch, seq: 0, jobs: {}, results: [], failures: [], dirty: true };
  }

  function header(a, msg) {
    a.label = msg.label;
    a.epoch = msg.epoch;
    a.seq = msg.seq;
    a.skew = Date.now() - msg.now; // the runtime's clock → ours, for elapsed times
    a.cost = msg.cost;
    a.running = msg.running;
    a.queued = msg.queued;
    a.inFlight = msg.inFlight;
    a.caps = msg.caps;
    a.dirty = true;
  }

  /** Newest last, one per key, at most `cap`. */
  function merge(list, items, cap) {
    var byKey = {};
    var out = [];
    list.concat(items).forEach(function (x) {
      if (byKey[x.key] !== undefined) out[byKey[x.key]] = x;
      else {
        byKey[x.key] = out.length;
        out.push(x);
      }
    });
    out.sort(function (x, y) {
      return x.at - y.at;
    });
    return out.slice(Math.max(0, out.length - cap));
  }

  /** One account's message: a full state, or the changes since seq - 1. False: reload everything. */
  function apply(msg) {
    var a = accounts[msg.id];
    if (msg.removed) {
      delete accounts[msg.id];
      return true;
    }
    if (msg.full) {
      a = accounts[msg.id] = fresh(msg);
    } else if (!a || a.epoch !== msg.epoch) {
      if (msg.seq !== 1) return false; // we missed its start
      a = accounts[msg.id] = fresh(msg);
    } else if (msg.seq <= a.seq) {
      return true; // already in the snapshot
    } else if (msg.seq !== a.seq + 1) {
      return false;
    }
    header(a, msg);
    msg.jobs.forEach(function (j) {
      a.jobs[j.taskUUID] = j;
    });
    msg.gone.forEach(function (uuid) {
      delete a.jobs[uuid];
    });
    a.results = merge(a.results, msg.results, msg.caps.results);
    a.failures = merge(a.failures, msg.failures, msg.caps.failures);
    return true;
  }

  function onMessage(topic, msg) {
    if (!msg || msg.v !== 1 || typeof msg.id !== 'string') return;
    if (loading) {
      early.push(msg);
      return;
    }
    if (!apply(msg)) reload();
    render();
  }

  function reload() {
    if (loading) {
      reloadAgain = true;
      return;
    }
    loading = true;
    $.ajax({ url: 'ovi/jobs', dataType: 'json', cache: false })
      .done(function (data) {
        problem = null;
        accounts = {};
        (data.accounts || []).forEach(apply);
        var queued = early.splice(0);
        loading = false;
        var gap = queued.some(function (m) {
          return !apply(m);
        });
        if (gap || reloadAgain) {
          reloadAgain = false;
          reload();
        }
        render(true);
      })
      .fail(function (xhr) {
        loading = false;
        reloadAgain = false;
        early.length = 0;
        accounts = {};
        problem =
          xhr.status === 401 || xhr.status === 403
            ? t('sidebar.noPermission')
            : xhr.status === 404
              ? t('sidebar.restartNeeded')
              : t('sidebar.loadFailed', { status: xhr.status || '-' });
        render(true);
      });
  }

  /* ------------------------------------------------------------------ formatting */

  /** $0.0123 for small sums, $12.35 from 100 on (as the config dialog writes costs). */
  function money(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '';
    return '$' + (Math.abs(n) >= 100 ? n.toFixed(2) : n.toFixed(4).replace(/(\.\d\d\d*?)0+$/, '$1'));
  }
  function elapsed(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var pad = function (n) {
      return (n < 10 ? '0' : '') + n;
    };
    return (h ? h + ':' + pad(m) : m) + ':' + pad(s % 60);
  }
  function clock(at, a) {
    return new Date(at + (a.skew || 0)).toLocaleTimeString();
  }
  function shortId(uuid) {
    return String(uuid).slice(0, 8);
  }
  function nodeLabel(id) {
    var n = id && RED.nodes.node(id);
    return n ? RED.utils.getNodeLabel(n, n.type) : null;
  }
  function accountLabel(a) {
    return nodeLabel(a.id) || a.label || a.id;
  }
  /** An admin URL for an element that cannot send the Authorization header (a <video>). */
  function adminUrl(path) {
    var tokens = RED.settings.get('auth-tokens');
    var url = (RED.settings.apiRootUrl || '') + path;
    return tokens && tokens.access_token ? url + '?access_token=' + encodeURIComponent(tokens.access_token) : url;
  }

  /* ------------------------------------------------------------------ DOM */

  var content = $('<div>', { id: 'ovi-sidebar', class: 'ovi-sb' });
  var body = $('<div>', { class: 'ovi-sb-body' }).appendTo(content);
  var ticker = null;

  function visible() {
    return content.is(':visible');
  }

  function nodeLink(id, fallback) {
    var label = nodeLabel(id);
    if (!label) return $('<span>', { class: 'ovi-sb-node ovi-sb-muted' }).text(fallback || t('sidebar.nodeGone'));
    return $('<a>', { href: '#', class: 'ovi-sb-node', title: t('sidebar.reveal') })
      .text(label)
      .on('click', function (e) {
        e.preventDefault();
        RED.view.reveal(id);
      });
  }

  function copyButton(uuid) {
    return $('<button>', { type: 'button', class: 'red-ui-button red-ui-button-small ovi-sb-copy', title: t('sidebar.copy') })
      .append($('<i>', { class: 'fa fa-clipboard' }))
      .on('click', function (e) {
        e.preventDefault();
        RED.clipboard.copyText(uuid, $(this), MODULE + '/ovi-config:sidebar.copied');
      });
  }

  function uuidLine(uuid) {
    return $('<span>', { class: 'ovi-sb-uuid' }).append($('<code>', { title: uuid }).text(shortId(uuid)), copyButton(uuid));
  }

  function stateText(j, position) {
    if (j.state === 'queued') return t('sidebar.state.queued', { n: position });
    if (j.state === 'submitting') return t('sidebar.state.submitting');
    return t('sidebar.state.running');
  }

  function jobRow(a, j, position) {
    var row = $('<div>', { class: 'ovi-sb-row ovi-sb-job', 'data-task': j.taskUUID });
    var top = $('<div>', { class: 'ovi-sb-line' }).appendTo(row);
    $('<span>', { class: 'ovi-sb-badge ovi-sb-state-' + j.state })
      .text(stateText(j, position))
      .appendTo(top);
    nodeLink(j.node).appendTo(top);
    $('<span>', { class: 'ovi-sb-elapsed', 'data-since': j.createdAt + (a.skew || 0) })
      .text(elapsed(Date.now() - a.skew - j.createdAt))
      .appendTo(top);
    if (typeof j.progress === 'number') {
      $('<div>', { class: 'ovi-sb-progress', title: j.progress + '%' })
        .append($('<div>', { class: 'ovi-sb-progress-bar' }).css('width', j.progress + '%'))
        .appendTo(row);
    }
    var bottom = $('<div>', { class: 'ovi-sb-line ovi-sb-muted' }).appendTo(row);
    uuidLine(j.taskUUID).appendTo(bottom);
    if (j.results > 1)
      $('<span>')
        .text(t('sidebar.generations', { done: j.settled, count: j.results }))
        .appendTo(bottom);
    if (typeof j.progress === 'number')
      $('<span>', { class: 'ovi-sb-percent' })
        .text(j.progress + '%')
        .appendTo(bottom);
    return row;
  }

  function mediaSrc(r) {
    if (r.media) return adminUrl('ovi/media/' + encodeURIComponent(r.media));
    return r.videoURL || null;
  }

  function player(r, row) {
    var src = mediaSrc(r);
    var video = $('<video>', { class: 'ovi-sb-video', preload: 'metadata', controls: true, playsinline: true, 'data-src': src });
    video.prop('muted', true);
    video.on('loadedmetadata', function () {
      var d = this.duration;
      if (!r.duration && isFinite(d) && d > 0) row.find('.ovi-sb-duration').text(t('sidebar.seconds', { s: Math.round(d * 10) / 10 }));
    });
    video.on('error', function () {
      row.find('.ovi-sb-thumb').addClass('ovi-sb-thumb-gone').attr('title', t('sidebar.unavailable'));
    });
    video.attr('src', src);
    return video;
  }

  function resultRow(a, r, withPlayer) {
    var row = $('<div>', { class: 'ovi-sb-row ovi-sb-result', 'data-key': r.key, 'data-task': r.taskUUID });
    var thumb = $('<div>', { class: 'ovi-sb-thumb' }).appendTo(row);
    if (!mediaSrc(r)) thumb.append($('<i>', { class: 'fa fa-film' }));
    else if (withPlayer) thumb.append(player(r, row));
    else
      $('<button>', { type: 'button', class: 'ovi-sb-load', title: t('sidebar.load') })
        .append($('<i>', { class: 'fa fa-play' }))
        .on('click', function () {
          thumb.empty().append(player(r, row));
        })
        .appendTo(thumb);
    var meta = $('<div>', { class: 'ovi-sb-meta' }).appendTo(row);
    var top = $('<div>', { class: 'ovi-sb-line' }).appendTo(meta);
    nodeLink(r.node).appendTo(top);
    $('<span>', { class: 'ovi-sb-muted' }).text(clock(r.at, a)).appendTo(top);
    var facts = $('<div>', { class: 'ovi-sb-line ovi-sb-muted' }).appendTo(meta);
    if (r.seed !== undefined)
      $('<span>')
        .text(t('sidebar.seed', { seed: r.seed }))
        .appendTo(facts);
    if (typeof r.cost === 'number') $('<span>').text(money(r.cost)).appendTo(facts);
    $('<span>', { class: 'ovi-sb-duration' })
      .text(typeof r.duration === 'number' ? t('sidebar.seconds', { s: r.duration }) : '')
      .appendTo(facts);
    if (r.media)
      $('<span>', { class: 'ovi-sb-badge', title: t('sidebar.fileTip') })
        .text(t('sidebar.file'))
        .appendTo(facts);
    $('<div>', { class: 'ovi-sb-line ovi-sb-muted' }).append(uuidLine(r.taskUUID)).appendTo(meta);
    return row;
  }

  function failureRow(a, f, section) {
    var row = $('<div>', { class: 'ovi-sb-row ovi-sb-failure', 'data-key': f.key, 'data-task': f.taskUUID });
    var top = $('<div>', { class: 'ovi-sb-line' }).appendTo(row);
    $('<span>', { class: 'ovi-sb-badge ovi-sb-code' }).text(f.code).appendTo(top);
    if (f.rawCode && f.rawCode !== f.code) $('<code>', { class: 'ovi-sb-raw' }).text(f.rawCode).appendTo(top);
    nodeLink(f.node).appendTo(top);
    $('<span>', { class: 'ovi-sb-muted' }).text(clock(f.at, a)).appendTo(top);
    $('<div>', { class: 'ovi-sb-message' })
      .text(f.message + (f.parameter ? ' (' + f.parameter + ')' : ''))
      .appendTo(row);
    var bottom = $('<div>', { class: 'ovi-sb-line ovi-sb-muted' }).append(uuidLine(f.taskUUID)).appendTo(row);
    if (f.code === 'timeout') {
      $('<button>', { type: 'button', class: 'red-ui-button red-ui-button-small ovi-sb-collect-this' })
        .text(t('sidebar.collect.button'))
        .on('click', function () {
          openCollect(section, a, f.taskUUID, f.results);
        })
        .appendTo(bottom);
    }
    return row;
  }

  /* ------------------------------------------------------------------ collect */

  function pollsOf(accountId) {
    return RED.nodes.filterNodes({ type: 'ovi-poll' }).filter(function (n) {
      return n.config === accountId;
    });
  }

  function openCollect(section, a, uuid, count) {
    var form = section.find('.ovi-sb-collect');
    form.toggleClass('hide', false);
    form.find('.ovi-sb-collect-uuid').val(uuid || '');
    form.data('count', count || undefined);
    fillPolls(form, a);
    form.find('.ovi-sb-collect-result').text('').removeClass('ovi-sb-error');
  }

  function fillPolls(form, a) {
    var select = form.find('select').empty();
    var polls = pollsOf(a.id);
    polls.forEach(function (n) {
      $('<option>', { value: n.id }).text(RED.utils.getNodeLabel(n, n.type)).appendTo(select);
    });
    select.prop('disabled', polls.length === 0);
    form.find('.ovi-sb-collect-go').prop('disabled', polls.length === 0);
    form.find('.ovi-sb-collect-none').toggleClass('hide', polls.length > 0);
  }

  function collectForm(a) {
    var form = $('<div>', { class: 'ovi-sb-collect hide' });
    $('<div>', { class: 'ovi-sb-muted' }).text(t('sidebar.collect.hint')).appendTo(form);
    var line = $('<div>', { class: 'ovi-sb-line' }).appendTo(form);
    // (attributes by .attr: jQuery UI's autocomplete() would take an "autocomplete" key of $(html, props))
    var uuid = $('<input>', { type: 'text', class: 'ovi-sb-collect-uuid', placeholder: 'taskUUID' })
      .attr({ spellcheck: 'false', autocomplete: 'off' })
      .appendTo(line);
    var select = $('<select>', { class: 'ovi-sb-collect-poll', title: t('sidebar.collect.poll') }).appendTo(line);
    var go = $('<button>', { type: 'button', class: 'red-ui-button red-ui-button-small ovi-sb-collect-go' }).text(t('sidebar.collect.button')).appendTo(line);
    $('<div>', { class: 'ovi-sb-muted ovi-sb-collect-none hide' }).text(t('sidebar.collect.noPoll')).appendTo(form);
    var result = $('<div>', { class: 'ovi-sb-collect-result', 'aria-live': 'polite' }).appendTo(form);
    go.on('click', function () {
      var poll = select.val();
      var body = { config: a.id, poll: poll, taskUUID: String(uuid.val()).trim() };
      if (form.data('count')) body.numberResults = form.data('count');
      go.prop('disabled', true);
      $.ajax({ url: 'ovi/collect', type: 'POST', contentType: 'application/json', data: JSON.stringify(body), dataType: 'json' })
        .done(function () {
          result.removeClass('ovi-sb-error').text(t('sidebar.collect.sent', { node: nodeLabel(poll) || poll }));
        })
        .fail(function (xhr) {
          var why = (xhr.responseJSON && xhr.responseJSON.error) || (xhr.status === 401 || xhr.status === 403 ? t('sidebar.collect.forbidden') : xhr.status);
          result.addClass('ovi-sb-error').text(t('sidebar.collect.failed', { message: why }));
        })
        .always(function () {
          go.prop('disabled', false);
        });
    });
    return form;
  }

  /* ------------------------------------------------------------------ rendering */

  var sections = {}; // account id → its section element

  function accountSection(a) {
    var section = sections[a.id];
    if (section) return section;
    section = $('<div>', { class: 'ovi-sb-account', 'data-account': a.id });
    var head = $('<div>', { class: 'ovi-sb-account-head' }).appendTo(section);
    $('<i>', { class: 'fa fa-film' }).appendTo(head);
    $('<span>', { class: 'ovi-sb-account-label' }).appendTo(head);
    $('<span>', { class: 'ovi-sb-account-cost' }).appendTo(head);
    $('<button>', { type: 'button', class: 'red-ui-button red-ui-button-small ovi-sb-collect-open', title: t('sidebar.collect.open') })
      .append($('<i>', { class: 'fa fa-download' }))
      .on('click', function () {
        var form = section.find('.ovi-sb-collect');
        if (form.hasClass('hide')) openCollect(section, accounts[a.id]);
        else form.addClass('hide');
      })
      .appendTo(head);
    collectForm(a).appendTo(section);
    $('<div>', { class: 'ovi-sb-title ovi-sb-title-jobs' }).appendTo(section);
    $('<div>', { class: 'ovi-sb-list ovi-sb-jobs' }).appendTo(section);
    $('<div>', { class: 'ovi-sb-title ovi-sb-title-results' }).text(t('sidebar.results')).appendTo(section);
    $('<div>', { class: 'ovi-sb-list ovi-sb-results' }).appendTo(section);
    $('<div>', { class: 'ovi-sb-title ovi-sb-title-failures' }).text(t('sidebar.failures')).appendTo(section);
    $('<div>', { class: 'ovi-sb-list ovi-sb-failures' }).appendTo(section);
    sections[a.id] = section;
    return section;
  }

  /** Rows keyed by `data-key`, newest first: existing rows (and their players) stay as they are. */
  function syncRows(list, items, make) {
    var keep = {};
    items.forEach(function (x) {
      keep[x.key] = x;
    });
    list.children().each(function () {
      var key = $(this).attr('data-key');
      var x = keep[key];
      if (!x || $(this).data('media') !== (x.media || x.videoURL || '')) $(this).remove();
    });
    var present = {};
    list.children().each(function () {
      present[$(this).attr('data-key')] = true;
    });
    for (var i = items.length - 1, pos = 0; i >= 0; i--, pos++) {
      var x = items[i];
      if (present[x.key]) continue;
      var row = make(x, pos).data('media', x.media || x.videoURL || '');
      var before = list.children().eq(pos);
      if (before.length) row.insertBefore(before);
      else row.appendTo(list);
    }
  }

  function renderAccount(a) {
    var section = accountSection(a);
    var head = section.find('.ovi-sb-account-head');
    head.find('.ovi-sb-account-label').text(accountLabel(a));
    var cost = a.cost || {};
    var costText = cost.budget
      ? t('sidebar.costOfBudget', { total: money(cost.total), budget: money(cost.budget) })
      : t('sidebar.cost', { total: money(cost.total || 0) });
    head
      .find('.ovi-sb-account-cost')
      .text(costText)
      .toggleClass('ovi-sb-error', !!cost.budget && cost.total >= cost.budget);

    var jobs = Object.keys(a.jobs)
      .map(function (k) {
        return a.jobs[k];
      })
      .sort(function (x, y) {
        return x.order - y.order;
      });
    section.find('.ovi-sb-title-jobs').text(t('sidebar.inFlight', { running: a.running, queued: a.queued }));
    var list = section.find('.ovi-sb-jobs').empty();
    var position = 0;
    jobs.forEach(function (j) {
      if (j.state === 'queued') position++;
      jobRow(a, j, position).appendTo(list);
    });
    if (a.inFlight > jobs.length)
      $('<div>', { class: 'ovi-sb-row ovi-sb-muted' })
        .text(t('sidebar.more', { n: a.inFlight - jobs.length }))
        .appendTo(list);
    if (jobs.length === 0) $('<div>', { class: 'ovi-sb-row ovi-sb-muted' }).text(t('sidebar.idle')).appendTo(list);

    syncRows(section.find('.ovi-sb-results'), a.results, function (r, pos) {
      return resultRow(a, r, pos < PLAYERS);
    });
    section.find('.ovi-sb-title-results, .ovi-sb-results').toggleClass('hide', a.results.length === 0);
    syncRows(section.find('.ovi-sb-failures'), a.failures, function (f) {
      return failureRow(a, f, section);
    });
    section.find('.ovi-sb-title-failures, .ovi-sb-failures').toggleClass('hide', a.failures.length === 0);
    a.dirty = false;
  }

  function render(all) {
    if (!visible()) return; // shown again: onchange renders
    body.children('.ovi-sb-note').remove();
    var ids = Object.keys(accounts).sort(function (x, y) {
      return accountLabel(accounts[x]).localeCompare(accountLabel(accounts[y]));
    });
    Object.keys(sections).forEach(function (id) {
      if (!accounts[id]) {
        sections[id].remove();
        delete sections[id];
      }
    });
    ids.forEach(function (id, i) {
      var a = accounts[id];
      if (all || a.dirty) renderAccount(a);
      var section = sections[id];
      if (body.children('.ovi-sb-account').eq(i)[0] !== section[0]) section.appendTo(body);
    });
    if (problem || ids.length === 0)
      $('<div>', { class: 'ovi-sb-note' })
        .text(problem || t('sidebar.empty'))
        .prependTo(body);
    tick();
  }

  /** Elapsed times, once a second while the tab shows jobs in flight. */
  function tick() {
    var rows = content.find('.ovi-sb-elapsed');
    if (!visible() || rows.length === 0) {
      if (ticker) clearInterval(ticker);
      ticker = null;
      return;
    }
    var now = Date.now();
    rows.each(function () {
      $(this).text(elapsed(now - Number($(this).attr('data-since'))));
    });
    if (!ticker) ticker = setInterval(tick, 1000);
  }

  /* ------------------------------------------------------------------ style (Node-RED's theme variables) */

  $('<style>', { id: 'ovi-sidebar-style' })
    .text(
      [
        '.ovi-sb{height:100%;overflow-y:auto;background:var(--red-ui-secondary-background);color:var(--red-ui-primary-text-color);font-size:13px}',
        '.ovi-sb-note{padding:12px;color:var(--red-ui-secondary-text-color);font-style:italic}',
        '.ovi-sb-account{border-bottom:1px solid var(--red-ui-secondary-border-color)}',
        '.ovi-sb-account-head{display:flex;align-items:center;gap:6px;padding:6px 8px;background:var(--red-ui-palette-header-background,var(--red-ui-primary-background));border-bottom:1px solid var(--red-ui-secondary-border-color);font-weight:bold}',
        '.ovi-sb-account-label{flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}',
        '.ovi-sb-account-cost{font-weight:normal;color:var(--red-ui-secondary-text-color);white-space:nowrap}',
        '.ovi-sb-title{padding:4px 8px;font-size:11px;text-transform:uppercase;color:var(--red-ui-secondary-text-color);background:var(--red-ui-tertiary-background,var(--red-ui-secondary-background))}',
        '.ovi-sb-row{padding:5px 8px;border-top:1px solid var(--red-ui-tertiary-border-color,var(--red-ui-secondary-border-color))}',
        '.ovi-sb-line{display:flex;flex-wrap:wrap;align-items:center;gap:6px;min-height:20px}',
        '.ovi-sb-muted{color:var(--red-ui-secondary-text-color)}',
        '.ovi-sb-node{color:var(--red-ui-text-color-link,var(--red-ui-primary-text-color));overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:60%}',
        '.ovi-sb-elapsed,.ovi-sb-percent{margin-left:auto;font-variant-numeric:tabular-nums}',
        '.ovi-sb-badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;line-height:17px;border:1px solid var(--red-ui-secondary-border-color);color:var(--red-ui-secondary-text-color);white-space:nowrap}',
        '.ovi-sb-state-running{border-color:var(--red-ui-node-status-colors-blue,#4a9ee8);color:var(--red-ui-node-status-colors-blue,#4a9ee8)}',
        '.ovi-sb-state-submitting{border-color:var(--red-ui-node-status-colors-yellow,#d5b300);color:var(--red-ui-text-color-warning,#b59300)}',
        '.ovi-sb-code,.ovi-sb-error{color:var(--red-ui-text-color-error,#d00)}',
        '.ovi-sb-code{border-color:var(--red-ui-text-color-error,#d00)}',
        '.ovi-sb-progress{height:3px;margin:3px 0;background:var(--red-ui-secondary-border-color);border-radius:2px;overflow:hidden}',
        '.ovi-sb-progress-bar{height:100%;background:var(--red-ui-node-status-colors-blue,#4a9ee8)}',
        '.ovi-sb-uuid{display:inline-flex;align-items:center;gap:4px}',
        '.ovi-sb-uuid code{font-family:var(--red-ui-monospace-font,monospace);font-size:11px;color:var(--red-ui-text-color-code,inherit);background:none;padding:0}',
        '.ovi-sb code.ovi-sb-raw{font-family:var(--red-ui-monospace-font,monospace);font-size:11px;color:var(--red-ui-secondary-text-color);background:none;padding:0;border:none}',
        '.ovi-sb-copy{padding:0 4px !important;line-height:16px !important;height:18px}',
        '.ovi-sb-result{display:flex;gap:8px;align-items:flex-start}',
        '.ovi-sb-thumb{flex:0 0 112px;width:112px;height:63px;background:#000;border-radius:3px;overflow:hidden;display:flex;align-items:center;justify-content:center;color:#bbb}',
        '.ovi-sb-thumb-gone{opacity:.4}',
        '.ovi-sb-video{width:112px;height:63px;object-fit:cover;display:block}',
        '.ovi-sb-load{background:none;border:none;color:#ddd;font-size:18px;cursor:pointer;width:100%;height:100%}',
        '.ovi-sb-meta{flex:1;min-width:0}',
        '.ovi-sb-message{margin:2px 0;overflow-wrap:anywhere;color:var(--red-ui-primary-text-color)}',
        '.ovi-sb-collect{padding:6px 8px;border-bottom:1px solid var(--red-ui-secondary-border-color);background:var(--red-ui-primary-background)}',
        '.ovi-sb-collect input.ovi-sb-collect-uuid{flex:1;min-width:140px;height:28px;padding:2px 6px;font-family:var(--red-ui-monospace-font,monospace);font-size:12px}',
        '.ovi-sb-collect select.ovi-sb-collect-poll{max-width:140px;height:28px;padding:2px 4px;font-size:12px}',
        '.ovi-sb-collect-result{margin-top:4px}',
      ].join('\n'),
    )
    .appendTo('head');

  /* ------------------------------------------------------------------ wiring */

  function onShow() {
    setTimeout(function () {
      render(true);
    }, 0);
  }

  RED.sidebar.addTab({
    id: TAB,
    label: t('sidebar.label'),
    name: t('sidebar.name'),
    content: content,
    enableOnEdit: true,
    iconClass: 'fa fa-film',
    action: 'ovi:show-ovi-tab',
    onchange: onShow,
  });
  RED.actions.add('ovi:show-ovi-tab', function () {
    RED.sidebar.show(TAB);
  });
  RED.comms.subscribe(TOPIC, onMessage);
  reload();
  // Reconnected: the runtime may have restarted, or messages were lost while away.
  if (typeof RED.comms.on === 'function') RED.comms.on('connect', reload);
  RED.events.on('login', reload);
  // Node labels and ovi poll choices follow the flows.
  RED.events.on('deploy', onShow);
  RED.events.on('workspace:change', onShow);

  function remove(ns) {
    if (!ns || ns.module !== MODULE || (ns.types || []).indexOf('ovi-config') < 0) return;
    RED.events.off('registry:node-set-removed', remove);
    RED.events.off('registry:node-set-disabled', remove);
    RED.comms.unsubscribe(TOPIC, onMessage);
    if (typeof RED.comms.off === 'function') RED.comms.off('connect', reload);
    RED.events.off('login', reload);
    RED.events.off('deploy', onShow);
    RED.events.off('workspace:change', onShow);
    if (ticker) clearInterval(ticker);
    RED.actions.remove('ovi:show-ovi-tab');
    RED.sidebar.removeTab(TAB);
    $('#ovi-sidebar-style').remove();
    window.OVI_SIDEBAR = false;
  }
  // The package uninstalled or disabled in the palette manager (enabled again, its .html loads this anew).
  RED.events.on('registry:node-set-removed', remove);
  RED.events.on('registry:node-set-disabled', remove);
})();
