/**
 * map.js — the live map page: Leaflet, fed only by the FanetClient (fanet-client.js).
 *
 * Reads the server's settings from #fanet-config, opens the map where the URL hash (#lat,lon,zoom), the
 * settings or the base stations say, subscribes the client to the visible region (with a margin, so small
 * moves need no new subscription; at most maxRadiusKm) and turns the client's changes into markers
 * (map-markers.js) and the side panel (map-panel.js). Base stations are not live objects: they are
 * polled over REST. Nothing here throws into the console in normal operation: failed tiles switch the
 * map to a plain background, failed requests show in the status line and the details panel.
 * `window.fanetMap` exposes the client, the Leaflet map and the markers for debugging.
 */

import { FanetClient, MAX_RADIUS_KM, distanceKm, formatAddress, isDistress } from "./fanet-client.js";
import { FILTER_OF_KIND, ObjectMarker, baseStationObject } from "./map-markers.js";
import { renderAlerts, renderDetails, renderStatus } from "./map-panel.js";

const L = globalThis.L;
const DEFAULT_VIEW = { lat: 46.5, lon: 11.0, zoom: 7 }; // the Alps, where most FANET traffic flies
const DEFAULTS = {
  title: "FANET live map",
  apiBase: "/api/v1",
  format: "protobuf",
  tiles: { url: "", attribution: "", maxZoom: 19, subdomains: "abc" },
  center: null,
  maxRadiusKm: MAX_RADIUS_KM,
  staleAfterS: 300,
  trackHours: 12,
  baseStationsRefreshS: 60,
};
const TILE_FAILURES = 4; // failed tiles in a row (none loading) before the plain background
const REGION_DELAY_MS = 400;
const REGION_MARGIN = 1.3;
const LABEL_MIN_ZOOM = 9;
const TICK_MS = 5000;
const FILTER_STORE = "fanet-map-filters";

function readConfig() {
  let given = {};
  try {
    given = JSON.parse(document.getElementById("fanet-config")?.textContent || "{}");
  } catch {
    // the raw index.html, not rendered by the server: defaults
  }
  return { ...DEFAULTS, ...given, tiles: { ...DEFAULTS.tiles, ...(given.tiles ?? {}) } };
}

function viewFromHash(hash) {
  const parts = hash.replace(/^#/, "").split(",").map(Number);
  if (parts.length < 2 || parts.some((n) => !Number.isFinite(n))) return null;
  const [lat, lon, zoom = 12] = parts;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { lat, lon, zoom: Math.round(zoom) };
}

class LiveMap {
  constructor(config) {
    this.config = config;
    this.client = new FanetClient({ apiBase: config.apiBase, format: config.format });
    this.markers = new Map(); // `${kind}:${key}` → ObjectMarker
    this.selected = null; // {id, track: Polyline|null, trackState}
    this.notes = [];
    this.filters = { kinds: new Set(), aircraft: new Set() };
    this.retryInS = null;
    this.statusEl = document.getElementById("status");
    this.alertsEl = document.getElementById("alerts");
    this.detailsEl = document.getElementById("details");
  }

  get view() {
    return { nowS: this.client.serverNow(), staleAfterS: this.config.staleAfterS };
  }

  async start() {
    document.getElementById("title").textContent = this.config.title;
    this.map = L.map("map", { zoomControl: false, worldCopyJump: true, minZoom: 2 });
    L.control.zoom({ position: "bottomright" }).addTo(this.map);
    L.control.scale({ position: "bottomright", imperial: false }).addTo(this.map);
    this.map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    this._addTiles();
    this._setUpFilters();
    this._setUpPanel();
    this._listen();

    const start = viewFromHash(location.hash) ?? this.config.center;
    this.map.setView(start ? [start.lat, start.lon] : [DEFAULT_VIEW.lat, DEFAULT_VIEW.lon], start?.zoom ?? DEFAULT_VIEW.zoom);
    const stations = await this._loadBaseStations();
    if (!start) await this._fitToContent(stations);
    this._onZoom();
    this.map.on("moveend", () => this._onMoved());
    this.map.on("zoomend", () => this._onZoom());
    window.addEventListener("hashchange", () => this._onHash());
    setInterval(() => this._tick(), TICK_MS);
    setInterval(() => this._loadBaseStations(), this.config.baseStationsRefreshS * 1000);
    await this.client.start(this._wantedRegion());
  }

  // --- tiles ---------------------------------------------------------------------------------------

  _addTiles() {
    const tiles = this.config.tiles;
    if (!tiles.url) {
      this._plainBackground();
      return;
    }
    const layer = L.tileLayer(tiles.url, {
      maxZoom: tiles.maxZoom,
      subdomains: tiles.subdomains,
      attribution: tiles.attribution,
    });
    let failuresInARow = 0;
    layer.on("tileload", () => {
      failuresInARow = 0;
    });
    layer.on("tileerror", () => {
      failuresInARow += 1;
      if (failuresInARow === TILE_FAILURES) {
        this.map.removeLayer(layer);
        this._plainBackground("map tiles unavailable");
      }
    });
    layer.addTo(this.map);
  }

  _plainBackground(note) {
    this.map.getContainer().classList.add("fanet-no-tiles");
    if (note) {
      this.notes.push(note);
      this._status();
    }
  }

  // --- the region -----------------------------------------------------------------------------------

  /** The circle around the view (at most maxRadiusKm), with a margin so small moves stay inside. */
  _visibleRegion() {
    const center = this.map.getCenter().wrap();
    const bounds = this.map.getBounds();
    const corner = (point) => distanceKm(center.lat, center.lng, point.lat, point.lng);
    const radius = Math.max(corner(bounds.getNorthEast()), corner(bounds.getSouthWest()), 1);
    return { lat: center.lat, lon: center.lng, radiusKm: Math.min(radius, this.config.maxRadiusKm) };
  }

  _wantedRegion() {
    const visible = this._visibleRegion();
    return { ...visible, radiusKm: Math.min(visible.radiusKm * REGION_MARGIN, this.config.maxRadiusKm) };
  }

  _onMoved() {
    clearTimeout(this._regionTimer);
    this._regionTimer = setTimeout(() => this._updateRegion(), REGION_DELAY_MS);
    const c = this.map.getCenter().wrap();
    const hash = `#${c.lat.toFixed(5)},${c.lng.toFixed(5)},${this.map.getZoom()}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  _updateRegion() {
    const current = this.client.region;
    const visible = this._visibleRegion();
    if (current) {
      const offset = distanceKm(current.lat, current.lon, visible.lat, visible.lon);
      const covered = offset + visible.radiusKm <= current.radiusKm + 0.5;
      const muchTooBig = current.radiusKm > 4 * visible.radiusKm * REGION_MARGIN && current.radiusKm > 10;
      if (covered && !muchTooBig) return;
    }
    this.client.setRegion(this._wantedRegion());
  }

  _onHash() {
    const view = viewFromHash(location.hash);
    if (view) this.map.setView([view.lat, view.lon], view.zoom);
  }

  _onZoom() {
    this.map.getContainer().classList.toggle("fanet-zoomed-out", this.map.getZoom() < LABEL_MIN_ZOOM);
  }

  async _fitToContent(stations) {
    let points = stations.filter((s) => s.position).map((s) => [s.position.latitude, s.position.longitude]);
    if (!points.length) {
      try {
        const lists = await Promise.all(["pilot", "ground", "station"].map((kind) => this.client.objectsIn(kind)));
        points = lists.flat().map((o) => [o.position.latitude, o.position.longitude]);
      } catch {
        points = [];
      }
    }
    if (points.length) this.map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 11 });
  }

  // --- objects --------------------------------------------------------------------------------------

  _listen() {
    this.client.addEventListener("change", (event) => this._applyChanges(event.detail.changes));
    this.client.addEventListener("reset", () => {
      for (const [id, marker] of this.markers) {
        if (marker.kind !== "basestation") this._removeMarker(id);
      }
      this._afterChanges(true);
    });
    this.client.addEventListener("state", (event) => {
      this.retryInS = event.detail.retryInS;
      this._status();
    });
    this.client.addEventListener("error", (event) => console.debug("fanet:", event.detail.code, event.detail.message));
  }

  _applyChanges(changes) {
    let alerts = false;
    const view = this.view;
    for (const { action, object, previous } of changes) {
      const id = `${object.kind}:${object.key}`;
      alerts ||= isDistress(object) || Boolean(previous && isDistress(previous));
      if (action === "remove") {
        this._removeMarker(id);
        continue;
      }
      this._upsert(id, object, view);
    }
    this._afterChanges(alerts);
  }

  _upsert(id, object, view) {
    let marker = this.markers.get(id);
    if (!marker) {
      marker = new ObjectMarker(L, object, (selected) => this.select(selected));
      this.markers.set(id, marker);
    }
    marker.update(object, view);
    this._place(marker);
    if (this.selected?.id === id) this._selectedChanged(object);
  }

  _removeMarker(id) {
    const marker = this.markers.get(id);
    if (!marker) return;
    marker.marker.remove();
    this.markers.delete(id);
    if (this.selected?.id === id) this.deselect();
  }

  _afterChanges(alerts) {
    if (alerts) this._alerts();
    this._status();
  }

  async _loadBaseStations() {
    let stations;
    try {
      stations = await this.client.baseStations();
    } catch (error) {
      console.debug("fanet: base stations unavailable:", error.message);
      return [];
    }
    const view = this.view;
    const seen = new Set();
    for (const message of stations) {
      if (!message.position) continue; // a station that never told where it is
      const object = baseStationObject(message);
      const id = `basestation:${object.key}`;
      seen.add(id);
      this._upsert(id, object, view);
    }
    for (const [id, marker] of this.markers) {
      if (marker.kind === "basestation" && !seen.has(id)) this._removeMarker(id);
    }
    this._status();
    return stations;
  }

  _tick() {
    const view = this.view;
    for (const marker of this.markers.values()) marker.tick(view);
    this._alerts();
    if (this.selected) this._renderDetails();
    this._status();
  }

  // --- filters --------------------------------------------------------------------------------------

  _setUpFilters() {
    let stored = {};
    try {
      stored = JSON.parse(localStorage.getItem(FILTER_STORE) || "{}");
    } catch {
      // no storage (private mode) or a broken entry: everything shown
    }
    for (const input of document.querySelectorAll("input[name=kind], input[name=aircraft]")) {
      const hidden = new Set(stored[input.name] ?? []);
      if (hidden.has(input.value)) input.checked = false;
      input.addEventListener("change", () => this._filtersChanged());
    }
    this._readFilters();
  }

  _readFilters() {
    const checked = (name) =>
      new Set([...document.querySelectorAll(`input[name=${name}]`)].filter((i) => i.checked).map((i) => i.value));
    this.filters = { kinds: checked("kind"), aircraft: checked("aircraft") };
  }

  _filtersChanged() {
    this._readFilters();
    const hidden = (name) =>
      [...document.querySelectorAll(`input[name=${name}]`)].filter((i) => !i.checked).map((i) => i.value);
    try {
      localStorage.setItem(FILTER_STORE, JSON.stringify({ kind: hidden("kind"), aircraft: hidden("aircraft") }));
    } catch {
      // not remembered: fine
    }
    for (const marker of this.markers.values()) this._place(marker);
    this._status();
  }

  /** Calls for help are always shown, whatever the filters say. */
  _visible(object) {
    if (isDistress(object)) return true;
    if (!this.filters.kinds.has(FILTER_OF_KIND[object.kind])) return false;
    if (object.kind !== "pilot") return true;
    const type = typeof object.type === "string" ? object.type : "PILOT_TYPE_UNKNOWN";
    return this.filters.aircraft.has(type);
  }

  _place(marker) {
    const show = this._visible(marker.object);
    const onMap = this.map.hasLayer(marker.marker);
    if (show && !onMap) marker.marker.addTo(this.map);
    else if (!show && onMap) marker.marker.remove();
  }

  // --- selection ----------------------------------------------------------------------------------

  /** Show `object` in the details panel; a pilot's recent track is drawn, a station's report reloaded. */
  select(object) {
    const id = `${object.kind}:${object.key}`;
    if (this.selected?.id !== id) {
      this.deselect();
      this.selected = { id, track: null, trackState: object.kind === "pilot" ? "loading…" : null };
      this.markers.get(id)?.element.classList.add("fanet-selected");
      if (object.kind === "pilot") this._loadTrack(object);
      if (object.kind === "station") this._reloadStation(object);
    }
    document.body.classList.add("panel-open");
    this._renderDetails();
  }

  deselect() {
    if (!this.selected) return;
    this.selected.track?.remove();
    this.markers.get(this.selected.id)?.element.classList.remove("fanet-selected");
    this.selected = null;
    this._renderDetails();
  }

  async _loadTrack(pilot) {
    const selection = this.selected;
    let track = null;
    try {
      track = await this.client.track(pilot.addr, this.config.trackHours);
    } catch (error) {
      console.debug("fanet: track unavailable:", error.message);
    }
    if (this.selected !== selection) return; // another object was chosen meanwhile
    const points = (track?.points ?? []).map((p) => [p.position.latitude, p.position.longitude]);
    const current = this.markers.get(selection.id)?.object ?? pilot;
    points.push([current.position.latitude, current.position.longitude]);
    selection.track = L.polyline(points, {
      className: "fanet-track",
      color: "#d81b60",
      weight: 3,
      opacity: 0.85,
      interactive: false,
    }).addTo(this.map);
    selection.trackState = track ? `${track.points.length} points, last ${this.config.trackHours} h` : "none recorded";
    this._renderDetails();
  }

  async _reloadStation(station) {
    const selection = this.selected;
    try {
      const fresh = await this.client.station(station.addr);
      if (fresh && this.selected === selection) this._upsert(selection.id, fresh, this.view);
    } catch (error) {
      console.debug("fanet: station unavailable:", error.message);
    }
  }

  _selectedChanged(object) {
    if (object.kind === "pilot" && this.selected.track) {
      this.selected.track.addLatLng([object.position.latitude, object.position.longitude]);
    }
    this._renderDetails();
  }

  _renderDetails() {
    const selection = this.selected;
    const object = selection ? this.markers.get(selection.id)?.object : null;
    renderDetails(
      this.detailsEl,
      object ?? null,
      this.view,
      { track: selection?.trackState, distress: object ? isDistress(object) : false },
      () => this.deselect(),
    );
  }

  // --- panel, alerts, status -----------------------------------------------------------------------

  _setUpPanel() {
    const toggle = document.getElementById("panel-toggle");
    const setOpen = (open) => {
      document.body.classList.toggle("panel-open", open);
      toggle.setAttribute("aria-expanded", String(open));
    };
    toggle.addEventListener("click", () => setOpen(!document.body.classList.contains("panel-open")));
    document.getElementById("panel-close").addEventListener("click", () => setOpen(false));
    this.map.on("click", () => this.deselect());
  }

  _alerts() {
    const distress = [...this.markers.values()].map((m) => m.object).filter(isDistress);
    renderAlerts(this.alertsEl, distress, this.view, (object) => {
      this.map.setView([object.position.latitude, object.position.longitude], Math.max(this.map.getZoom(), 13));
      this.select(object);
    });
  }

  _status() {
    let shown = 0;
    for (const marker of this.markers.values()) if (this.map.hasLayer(marker.marker)) shown += 1;
    renderStatus(this.statusEl, {
      state: this.client.state,
      retryInS: this.retryInS,
      shown,
      updatedAt: this.client.updatedAt,
      notes: this.notes,
    });
  }
}

const live = new LiveMap(readConfig());
window.fanetMap = {
  live,
  client: live.client,
  config: live.config,
  markers: live.markers,
  formatAddress,
  get map() {
    return live.map;
  },
};
live.start().catch((error) => console.warn("fanet: the map could not start:", error));
