// Renders /status, /status/incidents and /status/external, and refreshes
// them every minute. Everything from the server is set as text, never as
// markup: incident descriptions and monitor names are not ours.
(function () {
  'use strict';
  var REFRESH_MS = 60 * 1000;
  var HALF_MS = 12 * 3600 * 1000;
  var SERVICES = ['api', 'database', 'ai'];

  var fr = /^fr\b/i.test(navigator.language || '');
  var T = fr
    ? {
        title: 'État des services', services: 'Services', fleet: 'Parc supervisé', incidents: 'Incidents',
        old: 'Il y a 15 jours', now: 'Maintenant', loading: 'Chargement…',
        overall: { online: 'Tous les systèmes sont opérationnels', degraded: 'Certains services sont dégradés',
          offline: 'Panne majeure en cours', unknown: 'État inconnu' },
        status: { online: 'Opérationnel', degraded: 'Dégradé', offline: 'Hors service', unknown: 'Inconnu' },
        names: { api: 'API', database: 'Base de données', ai: 'Analyses IA' },
        external: 'Surveillance externe', engine: 'moteur', uptime15: 'disponibilité sur 15 jours',
        total: 'Machines', online: 'En ligne', offline: 'Hors ligne', health: 'Score de santé moyen',
        noIncidents: 'Aucun incident signalé.', ongoingFor: 'En cours depuis', lasted: 'Résolu après',
        started: 'début', shown: function (n, t) { return n + ' incident(s) affiché(s) sur ' + t; },
        updated: 'Mis à jour', every: 'actualisation chaque minute',
        failed: 'Actualisation impossible', kept: 'affichage des dernières données reçues',
        never: 'Les données d’état sont indisponibles pour le moment ; nouvel essai dans une minute.',
        parts: { status: 'état', incidents: 'incidents', external: 'surveillance externe' },
      }
    : {
        title: 'System status', services: 'Services', fleet: 'Monitored fleet', incidents: 'Incidents',
        old: '15 days ago', now: 'Now', loading: 'Loading…',
        overall: { online: 'All systems operational', degraded: 'Some systems are degraded',
          offline: 'Major outage in progress', unknown: 'Status unknown' },
        status: { online: 'Operational', degraded: 'Degraded', offline: 'Down', unknown: 'Unknown' },
        names: { api: 'API', database: 'Database', ai: 'AI analyses' },
        external: 'External monitor', engine: 'engine', uptime15: 'uptime over 15 days',
        total: 'Machines', online: 'Online', offline: 'Offline', health: 'Average health score',
        noIncidents: 'No incidents reported.', ongoingFor: 'Ongoing for', lasted: 'Resolved after',
        started: 'started', shown: function (n, t) { return 'Showing ' + n + ' of ' + t + ' incident(s)'; },
        updated: 'Updated', every: 'refreshes every minute',
        failed: 'Could not refresh', kept: 'showing the last data received',
        never: 'Status data is unavailable right now; trying again in a minute.',
        parts: { status: 'status', incidents: 'incidents', external: 'external monitors' },
      };

  var $ = function (id) { return document.getElementById(id); };
  var last = { status: null, incidents: null, external: null };
  var lastSuccess = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function known(status) {
    return status === 'online' || status === 'degraded' || status === 'offline' ? status : 'unknown';
  }

  function isNumber(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function pct(v) {
    return isNumber(v) ? (v >= 99.995 ? '100' : v.toFixed(2)) + ' %' : '–';
  }

  function level(v) {
    if (!isNumber(v)) return 'none';
    if (v >= 99.9) return 'up';
    if (v >= 99) return 'minor';
    if (v >= 95) return 'partial';
    return 'down';
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  // The 30 values are 12-hour halves (00:00–12:00 and 12:00–24:00 UTC),
  // the last one being the half that contains the answer's timestamp.
  function halfLabel(reference, index, count) {
    var current = Math.floor(reference / HALF_MS) * HALF_MS;
    var start = new Date(current - (count - 1 - index) * HALF_MS);
    var day = start.getUTCFullYear() + '-' + pad(start.getUTCMonth() + 1) + '-' + pad(start.getUTCDate());
    return day + (start.getUTCHours() < 12 ? ' 00:00–12:00 UTC' : ' 12:00–24:00 UTC');
  }

  function duration(ms) {
    var minutes = Math.max(0, Math.round(ms / 60000));
    if (minutes < 60) return minutes + ' min';
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + ' h ' + pad(minutes % 60) + ' min';
    return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h';
  }

  function timeText(date) {
    return date.toLocaleString(fr ? 'fr-FR' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' });
  }

  function parseTime(text) {
    var t = Date.parse(text);
    return isNaN(t) ? null : t;
  }

  var tip = $('tip');
  function showTip(bar) {
    var text = bar.getAttribute('data-label');
    $('bar-detail').textContent = text;
    tip.textContent = text;
    tip.hidden = false;
    var box = bar.getBoundingClientRect();
    var width = tip.offsetWidth;
    var left = Math.min(Math.max(4, box.left + box.width / 2 - width / 2), window.innerWidth - width - 4);
    tip.style.left = left + 'px';
    tip.style.top = Math.max(4, box.top - tip.offsetHeight - 6) + 'px';
  }
  function hideTip() {
    tip.hidden = true;
  }

  function bars(serviceKey, name, values, reference) {
    var box = el('div', 'bars');
    box.setAttribute('role', 'img');
    box.setAttribute('aria-label', name + ': ' + T.uptime15);
    var list = Array.isArray(values) ? values : [];
    list.forEach(function (value, i) {
      var bar = el('span', 'bar');
      var label = name + ' · ' + halfLabel(reference, i, list.length) + ': ' + pct(value);
      bar.setAttribute('data-service', serviceKey);
      bar.setAttribute('data-uptime', String(value));
      bar.setAttribute('data-level', level(value));
      bar.setAttribute('data-label', label);
      bar.setAttribute('title', label);
      bar.tabIndex = 0;
      bar.addEventListener('mouseenter', function () { showTip(bar); });
      bar.addEventListener('focus', function () { showTip(bar); });
      bar.addEventListener('click', function () { showTip(bar); });
      bar.addEventListener('mouseleave', hideTip);
      bar.addEventListener('blur', hideTip);
      box.appendChild(bar);
    });
    return box;
  }

  function average(values) {
    var nums = (Array.isArray(values) ? values : []).filter(isNumber);
    if (!nums.length) return null;
    return nums.reduce(function (a, b) { return a + b; }, 0) / nums.length;
  }

  function serviceRow(key, name, note, entry, responseTime, uptime, reference) {
    var row = el('div', 'svc');
    row.setAttribute('data-service', key);
    var title = el('div', 'svc-name', name);
    if (note) title.appendChild(el('span', 'svc-note', note));
    var status = known(entry.status);
    var pill = el('span', 'pill', T.status[status]);
    pill.setAttribute('data-status', status);
    row.appendChild(title);
    row.appendChild(pill);
    row.appendChild(el('span', 'svc-time', isNumber(responseTime) ? Math.round(responseTime) + ' ms' : '–'));
    row.appendChild(bars(key, name, entry.uptime_15d, reference));
    var up = el('span', 'svc-uptime', pct(uptime));
    up.title = T.uptime15;
    row.appendChild(up);
    return row;
  }

  function renderServices() {
    var box = $('services');
    var rows = [];
    var status = last.status;
    if (status) {
      var reference = parseTime(status.timestamp) || Date.now();
      SERVICES.forEach(function (key) {
        var entry = status.services[key];
        if (!entry) return;
        var note = key === 'ai' && entry.engine ? T.engine + ': ' + entry.engine : null;
        rows.push(serviceRow(key, T.names[key], note, entry, entry.response_time_ms, average(entry.uptime_15d), reference));
      });
    }
    var external = last.external;
    if (external && Array.isArray(external.monitors)) {
      var extReference = parseTime(external.timestamp) || Date.now();
      external.monitors.forEach(function (m) {
        var ratio = isNumber(m.uptime_ratio) ? m.uptime_ratio : average(m.uptime_15d);
        rows.push(serviceRow('external:' + m.id, String(m.name), T.external, m, m.response_time, ratio, extReference));
      });
    }
    if (!rows.length) rows.push(el('p', 'empty', T.loading));
    box.replaceChildren.apply(box, rows);
  }

  function renderOverall() {
    var banner = $('overall');
    var status = last.status ? known(last.status.overall_status) : 'unknown';
    banner.setAttribute('data-status', status);
    $('overall-text').textContent = T.overall[status];
  }

  function renderFleet() {
    var m = last.status && last.status.metrics;
    var box = $('fleet');
    if (!m) {
      box.replaceChildren(el('p', 'empty', T.loading));
      return;
    }
    var tiles = [
      ['total_machines', T.total, m.total_machines],
      ['online_machines', T.online, m.online_machines],
      ['offline_machines', T.offline, m.offline_machines],
      ['average_health_score', T.health, isNumber(m.average_health_score) ? m.average_health_score.toFixed(1) : '–'],
    ].map(function (t) {
      var tile = el('div', 'tile');
      tile.setAttribute('data-metric', t[0]);
      tile.appendChild(el('span', 'tile-value', t[2] === undefined || t[2] === null ? '–' : t[2]));
      tile.appendChild(el('span', 'tile-label', t[1]));
      return tile;
    });
    box.replaceChildren.apply(box, tiles);
  }

  function renderIncidents() {
    var list = $('incidents');
    var data = last.incidents;
    if (!data || !Array.isArray(data.incidents)) {
      list.replaceChildren(el('li', 'empty', T.loading));
      $('incidents-total').textContent = '';
      return;
    }
    var now = Date.now();
    // Ongoing first, then the most recent.
    var items = data.incidents.slice().sort(function (a, b) {
      var ao = a.resolved_at ? 1 : 0;
      var bo = b.resolved_at ? 1 : 0;
      if (ao !== bo) return ao - bo;
      return (parseTime(b.started_at) || 0) - (parseTime(a.started_at) || 0);
    });
    if (!items.length) {
      list.replaceChildren(el('li', 'empty', T.noIncidents));
    } else {
      list.replaceChildren.apply(list, items.map(function (inc) {
        var li = el('li', 'incident');
        var started = parseTime(inc.started_at);
        var resolved = parseTime(inc.resolved_at);
        li.setAttribute('data-incident', String(inc.id));
        li.setAttribute('data-ongoing', resolved === null ? 'true' : 'false');
        var head = el('div', 'incident-head');
        head.appendChild(el('span', 'incident-service', T.names[inc.service_name] || inc.service_name));
        var status = known(inc.status);
        var pill = el('span', 'pill', T.status[status]);
        pill.setAttribute('data-status', status);
        head.appendChild(pill);
        var when = started === null
          ? ''
          : (resolved === null ? T.ongoingFor + ' ' + duration(now - started) : T.lasted + ' ' + duration(resolved - started)) +
            ' · ' + T.started + ' ' + timeText(new Date(started));
        head.appendChild(el('span', 'incident-when', when));
        li.appendChild(head);
        if (inc.description) li.appendChild(el('p', 'incident-text', inc.description));
        return li;
      }));
    }
    var total = isNumber(data.total) ? data.total : items.length;
    $('incidents-total').textContent = total > items.length ? T.shown(items.length, total) : '';
  }

  function renderNotice(failed) {
    var notice = $('notice');
    if (!failed.length) {
      notice.hidden = true;
      notice.textContent = '';
      return;
    }
    if (!last.status && !last.incidents && !last.external) {
      notice.textContent = T.never;
    } else {
      notice.textContent = T.failed + ' (' + failed.map(function (k) { return T.parts[k]; }).join(', ') + '): ' +
        T.kept + (lastSuccess ? ' (' + lastSuccess.toLocaleTimeString(fr ? 'fr-FR' : 'en-GB') + ').' : '.');
    }
    notice.hidden = false;
  }

  function renderUpdated() {
    var stamp = last.status && parseTime(last.status.timestamp);
    $('updated').textContent = stamp
      ? T.updated + ' ' + new Date(stamp).toLocaleTimeString(fr ? 'fr-FR' : 'en-GB') + ' · ' + T.every
      : T.every;
  }

  var shapes = {
    status: function (d) { return d && typeof d.services === 'object' && d.services !== null; },
    incidents: function (d) { return d && Array.isArray(d.incidents); },
    external: function (d) { return d && Array.isArray(d.monitors); },
  };

  function getJson(path) {
    return fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'omit' })
      .then(function (response) {
        if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
        return response.json();
      });
  }

  var refreshes = 0;
  function refresh() {
    var keys = ['status', 'incidents', 'external'];
    return Promise.allSettled([getJson('/status'), getJson('/status/incidents'), getJson('/status/external')])
      .then(function (results) {
        var failed = [];
        results.forEach(function (result, i) {
          var key = keys[i];
          if (result.status === 'fulfilled' && shapes[key](result.value)) {
            last[key] = result.value;
          } else {
            failed.push(key);
          }
        });
        if (failed.length < keys.length) lastSuccess = new Date();
        renderOverall();
        renderServices();
        renderFleet();
        renderIncidents();
        renderNotice(failed);
        renderUpdated();
        refreshes += 1;
        document.body.setAttribute('data-refreshes', String(refreshes));
        document.body.setAttribute('data-failed', failed.join(' '));
      });
  }

  function translateStatic() {
    document.documentElement.lang = fr ? 'fr' : 'en';
    $('page-title').textContent = T.title;
    $('h-services').textContent = T.services;
    $('h-fleet').textContent = T.fleet;
    $('h-incidents').textContent = T.incidents;
    $('axis-old').textContent = T.old;
    $('axis-now').textContent = T.now;
    $('overall-text').textContent = T.loading;
  }

  translateStatic();
  refresh();
  window.setInterval(refresh, REFRESH_MS);
  // A tab left in the background catches up as soon as it is looked at.
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') refresh();
  });
  window.addEventListener('scroll', hideTip, { passive: true });
})();
