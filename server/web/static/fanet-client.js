/**
 * fanet-client.js — the live picture of a FANET server for maps and other frontends (an ES module).
 *
 *   import { FanetClient } from "https://live.example.org/static/fanet-client.js";
 *   const client = new FanetClient({ baseUrl: "https://live.example.org" });
 *   client.addEventListener("change", (event) => draw(event.detail.changes));
 *   client.start({ lat: 46.5, lon: 11.3, radiusKm: 50 });
 *   client.setRegion({ lat: 46.6, lon: 11.0, radiusKm: 80 });   // when the map moves
 *
 * How it stays in step with the server (see README.md next to this file for the whole API):
 *   1. GET /api/v1/snapshot for the region: everything in it and the change-stream sequence S.
 *   2. The WebSocket (URL from /api/v1/info) with last_sequence=S: the server sends only what changed
 *      since S, then every change live, in batches of ADD/UPDATE/REMOVE relative to the region.
 *   3. A new region is a SubscribeRequest on the open socket (at most 9 a minute; the server allows 10):
 *      the server sends what entered (ADD) and what left (REMOVE).
 *   4. A lost connection is retried after 1, 2, 4, 8, 16, 30, 30 … s and resumes from the last sequence
 *      the client has applied completely. A catch-up the server sends in several batches counts as applied
 *      only when its last batch (one with fewer than 100 updates) arrived, so a connection lost halfway
 *      resumes from before it. When the server no longer has that sequence (`resume_unavailable`), or the
 *      region changed while the connection was down, the client starts again from a snapshot.
 *   5. Messages are protobuf (decoded by fanet-proto.js); if one cannot be decoded the client switches
 *      to the JSON mirror (`format=json`) for good and reconnects. `format: "json"` uses JSON throughout.
 *      With protobuf the client asks for compact pilot moves (`compact=true`, a PilotMotion applied to
 *      the pilot it has: about half the bytes); `compact: false` asks for whole pilots.
 *
 * Objects are the API's messages (Pilot, GroundObject, Thermal, Station) in the JSON mirror's shape
 * (fanet-proto.js), plus `kind` ("pilot", "ground", "thermal", "station") and `key` (the address as six
 * upper-case hex digits, a thermal's id as a decimal string).
 */

import { DISTRESS_GROUND_TYPES } from "./fanet-schema.js";
import { decode, encode, fromJson } from "./fanet-proto.js";

export const KINDS = ["pilot", "ground", "thermal", "station"];
export const STATES = ["connecting", "live", "reconnecting", "offline"];
export const MAX_RADIUS_KM = 200;
export const MIN_RADIUS_KM = 1;
export const BACKOFF_S = [1, 2, 4, 8, 16, 30];

const BATCH_LIMIT = 100; // the contract's largest batch: a full one means more follow at once
const SUBSCRIPTIONS_PER_MINUTE = 9;
const SILENCE_LIMIT_MS = 75_000; // the server pings every 30 s
const STEADY_AFTER_MS = 10_000; // a connection live this long resets the backoff
const SNAPSHOT_POLL_MS = 30_000; // while the socket is down, refresh the snapshot this often
const PROTOBUF = "application/x-protobuf";
const KIND_OF_UPDATE = {
  UPDATE_TYPE_PILOT: "pilot",
  UPDATE_TYPE_GROUND_OBJECT: "ground",
  UPDATE_TYPE_THERMAL: "thermal",
  UPDATE_TYPE_STATION: "station",
};
const MESSAGE_OF_KIND = { pilot: "Pilot", ground: "GroundObject", thermal: "Thermal", station: "Station" };
const SNAPSHOT_LISTS = { pilot: "pilots", ground: "ground_objects", thermal: "thermals", station: "stations" };
const SNAPSHOT_TYPES = { pilot: "pilots", ground: "ground", thermal: "thermals", station: "stations" };
const DISTRESS = new Set(DISTRESS_GROUND_TYPES);

/** A FANET address (24-bit number) as people read it: six upper-case hex digits, "110B90". */
export function formatAddress(addr) {
  return Number(addr).toString(16).toUpperCase().padStart(6, "0");
}

/** The key of an object of `kind`: its address as six hex digits, or a thermal's id. */
export function objectKey(kind, message) {
  return kind === "thermal" ? String(message.id) : formatAddress(message.addr);
}

/** Whether an object asks for help now (a ground object in a distress state). */
export function isDistress(object) {
  return object.kind === "ground" && DISTRESS.has(object.type);
}

/** Great-circle distance in km (the server's spherical earth). */
export function distanceKm(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** An answer of the server that is an error (`status` 0: the server could not be reached). */
export class FanetError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "FanetError";
    this.status = status;
    this.code = code;
  }
}

function normaliseRegion(region) {
  const lat = Number(region.lat);
  const lon = Number(region.lon);
  if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) throw new RangeError(`not a position: ${lat}, ${lon}`);
  const radius = Math.min(MAX_RADIUS_KM, Math.max(MIN_RADIUS_KM, Math.ceil(Number(region.radiusKm))));
  if (!Number.isFinite(radius)) throw new RangeError(`not a radius: ${region.radiusKm}`);
  return { lat, lon, radiusKm: radius };
}

function sameRegion(a, b) {
  return Boolean(a && b) && a.radiusKm === b.radiusKm && distanceKm(a.lat, a.lon, b.lat, b.lon) < 0.01;
}

function withIdentity(kind, message) {
  message.kind = kind;
  message.key = objectKey(kind, message);
  return message;
}

/**
 * The client. Events (an EventTarget; `event.detail` holds the data):
 *   state  — {state, previous, retryInS}: connecting | live | reconnecting | offline
 *   change — {changes: [{action: "add"|"update"|"remove", object, previous}], sequence, source}
 *            (source "snapshot" or "live"); `object` is the new state, or the removed one
 *   reset  — every object was dropped (a fresh snapshot follows as "add" changes)
 *   error  — {code, message}: an Error from the server, or a transport problem (informational)
 */
export class FanetClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] the server ("https://live.example.org"); "" for the page's own
   * @param {string} [options.apiBase] the REST prefix, "/api/v1"
   * @param {string} [options.websocketUrl] the live-updates URL; by default /api/v1/info's websocket_url
   * @param {"protobuf"|"json"} [options.format] the wire format to start with
   * @param {boolean} [options.compact] ask for compact pilot moves (PilotMotion; protobuf only), default true
   */
  constructor(options = {}) {
    super();
    this.baseUrl = (options.baseUrl ?? "").replace(/\/$/, "");
    this.apiBase = options.apiBase ?? "/api/v1";
    this.websocketUrl = options.websocketUrl ?? null;
    this.format = options.format === "json" ? "json" : "protobuf";
    this.compact = options.compact ?? true;
    this.compactUpdates = 0; // PilotMotions applied
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._objects = new Map();
    this._state = "connecting";
    this._region = null;
    this._syncedRegion = null; // the region the objects we hold are complete for
    this._sequence = 0; // the resume point: every change up to it is applied
    this._highest = 0; // the highest sequence received
    this._syncing = false;
    this._pendingRegion = null; // sent, not yet answered
    this._syncRegionPending = null; // answered, its catch-up not complete yet
    this._socketRegion = null; // the region in the socket's URL
    this._connectedWith = 0; // the last_sequence in the socket's URL
    this._everLive = false;
    this._subscribeTimes = [];
    this._subscribeTimer = null;
    this._ws = null;
    this._attempt = 0;
    this._retryTimer = null;
    this._steadyTimer = null;
    this._watchdog = null;
    this._lastHeard = 0;
    this._snapshotAt = 0;
    this._clockOffsetS = 0;
    this._updatedAt = null;
    this._running = false;
    this._onOnline = () => this._online();
    this._onOffline = () => this._offline();
  }

  /** connecting | live | reconnecting | offline */
  get state() {
    return this._state;
  }

  /** Every object held, by `${kind}:${key}` (read only: the client replaces entries on changes). */
  get objects() {
    return this._objects;
  }

  /** The object of `kind` with `key` (address "110B90" or thermal id), or undefined. */
  get(kind, key) {
    return this._objects.get(`${kind}:${key}`);
  }

  /** The change-stream sequence the client would resume from. */
  get sequence() {
    return this._sequence;
  }

  /** The subscribed region {lat, lon, radiusKm}. */
  get region() {
    return this._region;
  }

  /** Unix ms when the last change was received (null before). */
  get updatedAt() {
    return this._updatedAt;
  }

  /** Unix seconds by the server's clock (to age `last_update` without the local clock's error). */
  serverNow() {
    return Date.now() / 1000 + this._clockOffsetS;
  }

  /** Start following `region` ({lat, lon, radiusKm}); resolves after the first attempt (the snapshot
   * applied and the socket opening, or a retry scheduled: watch the "state" events). */
  async start(region) {
    if (this._running) throw new Error("the client is already started");
    this._region = normaliseRegion(region);
    this._running = true;
    globalThis.addEventListener?.("online", this._onOnline);
    globalThis.addEventListener?.("offline", this._onOffline);
    this._watchdog = setInterval(() => this._checkSilence(), 5000);
    this._setState("connecting");
    await this._connect();
  }

  /** Follow another region; sent now, or as soon as the subscription rate allows, or on reconnect. */
  setRegion(region) {
    const next = normaliseRegion(region);
    if (sameRegion(next, this._region)) return;
    this._region = next;
    // One request at a time: the answer to a pending one sends the latest region (_onSubscribed).
    if (this._ws && this._ws.readyState === 1 && this._state === "live" && !this._pendingRegion) {
      this._sendSubscribe();
    }
  }

  /** Stop: close the socket (telling the server why), cancel retries. State becomes "offline". */
  close(reason = "client closed") {
    this._running = false;
    clearTimeout(this._retryTimer);
    clearTimeout(this._subscribeTimer);
    clearTimeout(this._steadyTimer);
    clearInterval(this._watchdog);
    globalThis.removeEventListener?.("online", this._onOnline);
    globalThis.removeEventListener?.("offline", this._onOffline);
    if (this._ws && this._ws.readyState === 1) this._send({ unsubscribe: { reason } });
    this._dropSocket(1000, reason);
    this._setState("offline");
  }

  // --- REST ------------------------------------------------------------------------------------------

  /** GET /info: server version, websocket_url, counts (JSON). */
  info() {
    return this._get("/info", null);
  }

  /** Everything in a region now: {objects: [...], sequence}. `kinds` limits it (default: all). */
  async snapshot(region, kinds = KINDS) {
    const { lat, lon, radiusKm } = normaliseRegion(region);
    const types = kinds.map((kind) => SNAPSHOT_TYPES[kind]).join(",");
    const query = `lat=${lat}&lon=${lon}&radius=${radiusKm}&types=${types}`;
    const response = await this._get(`/snapshot?${query}`, "SnapshotResponse");
    const objects = [];
    for (const kind of KINDS) {
      for (const message of response[SNAPSHOT_LISTS[kind]]) objects.push(withIdentity(kind, message));
    }
    return { objects, sequence: response.sequence };
  }

  /** Objects of `kind` in a box {south, west, north, east} (the whole world by default). */
  async objectsIn(kind, box = { south: -90, west: -180, north: 90, east: 180 }) {
    const path = SNAPSHOT_TYPES[kind];
    const bounds = [box.south, box.west, box.north, box.east].join(",");
    const type = `${kind === "ground" ? "GroundObjects" : MESSAGE_OF_KIND[kind] + "s"}Response`;
    const response = await this._get(`/${path}?bounds=${bounds}`, type);
    return response[SNAPSHOT_LISTS[kind]].map((message) => withIdentity(kind, message));
  }

  /** A pilot's track ({addr, points, start_time, end_time}), or null when the server has none. */
  async track(addr, hours = 12) {
    try {
      const response = await this._get(`/track/${formatAddress(addr)}?hours=${hours}`, "TrackResponse");
      return response.track ?? { addr, points: [], start_time: 0, end_time: 0 };
    } catch (error) {
      if (error instanceof FanetError && error.status === 404) return null;
      throw error;
    }
  }

  /** The receiving base stations (BaseStation messages; `name` is the station id). */
  async baseStations() {
    return (await this._get("/basestations", "BaseStationsResponse")).stations;
  }

  /** A weather station's latest report (a Station object), or null when unknown. */
  async station(addr) {
    try {
      return withIdentity("station", await this._get(`/stations/${formatAddress(addr)}`, "Station"));
    } catch (error) {
      if (error instanceof FanetError && error.status === 404) return null;
      throw error;
    }
  }

  async _get(path, type) {
    const asProtobuf = this.format === "protobuf" && type !== null;
    let response;
    try {
      response = await this._fetch(this.baseUrl + this.apiBase + path, {
        headers: { Accept: asProtobuf ? `${PROTOBUF}, application/json;q=0.5` : "application/json" },
      });
    } catch (error) {
      throw new FanetError(0, "unreachable", `${path}: ${error.message}`);
    }
    if (!response.ok) {
      let body = {};
      try {
        body = await response.json();
      } catch {
        // not the API's error body (a proxy's page): the status says enough
      }
      throw new FanetError(response.status, body.code ?? `http_${response.status}`, body.message ?? path);
    }
    if ((response.headers.get("Content-Type") ?? "").startsWith(PROTOBUF)) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      try {
        return decode(type, bytes);
      } catch (error) {
        this._fallBackToJson(error);
        return this._get(path, type);
      }
    }
    const body = await response.json();
    return type === null ? body : fromJson(type, body);
  }

  // --- the connection ---------------------------------------------------------------------------------

  async _connect() {
    this._retryTimer = null;
    if (!this._running) return;
    if (this._state === "offline") this._setState(this._everLive ? "reconnecting" : "connecting");
    try {
      if (!this.websocketUrl) this.websocketUrl = (await this.info()).websocket_url;
      const polling = this._attempt > 0 && Date.now() - this._snapshotAt > SNAPSHOT_POLL_MS;
      if (!sameRegion(this._region, this._syncedRegion) || polling) await this._loadSnapshot();
    } catch (error) {
      this._emit("error", { code: error.code ?? "unreachable", message: error.message });
      this._scheduleReconnect();
      return;
    }
    if (!this._running) return;
    this._openSocket();
  }

  async _loadSnapshot() {
    const region = this._region;
    const { objects, sequence } = await this.snapshot(region);
    this._snapshotAt = Date.now();
    const fresh = new Map(objects.map((object) => [`${object.kind}:${object.key}`, object]));
    const changes = [];
    for (const [id, previous] of this._objects) {
      if (!fresh.has(id)) changes.push({ action: "remove", object: previous, previous });
    }
    for (const [id, object] of fresh) {
      const previous = this._objects.get(id);
      changes.push({ action: previous ? "update" : "add", object, previous });
    }
    this._objects = fresh;
    this._sequence = this._highest = sequence;
    this._syncedRegion = region;
    this._changed(changes, "snapshot");
  }

  _openSocket() {
    // Resume for the region the objects are complete for; a move since then follows on Welcome.
    this._socketRegion = this._syncedRegion ?? this._region;
    const { lat, lon, radiusKm } = this._socketRegion;
    const url = new URL(this.websocketUrl, globalThis.location?.href);
    url.searchParams.set("lat", lat);
    url.searchParams.set("lon", lon);
    url.searchParams.set("radius", radiusKm);
    if (this.format === "json") url.searchParams.set("format", "json");
    else if (this.compact) url.searchParams.set("compact", "true");
    if (this._sequence > 0) url.searchParams.set("last_sequence", this._sequence);
    this._connectedWith = this._sequence;
    let ws;
    try {
      ws = new this._WebSocket(url.href);
    } catch (error) {
      this._emit("error", { code: "unreachable", message: error.message });
      this._scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => this._onMessage(event.data);
    ws.onclose = (event) => this._onClose(event.code, event.reason);
    ws.onerror = () => {}; // the close event that follows says what happened
    this._ws = ws;
    this._lastHeard = Date.now();
  }

  _onClose(code, reason) {
    this._ws = null;
    clearTimeout(this._steadyTimer);
    if (!this._running) return;
    this._forgetSync();
    this._emit("error", { code: `closed_${code}`, message: reason || "connection closed" });
    this._scheduleReconnect();
  }

  _dropSocket(code, reason) {
    const ws = this._ws;
    this._ws = null;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  _scheduleReconnect() {
    if (!this._running || this._retryTimer) return;
    if (globalThis.navigator?.onLine === false) {
      this._setState("offline");
      return; // the "online" event reconnects
    }
    const delayS = BACKOFF_S[Math.min(this._attempt, BACKOFF_S.length - 1)];
    this._attempt += 1;
    this._setState(this._everLive ? "reconnecting" : "connecting", { retryInS: delayS });
    this._retryTimer = setTimeout(() => this._connect(), delayS * 1000);
  }

  _reconnectNow() {
    this._dropSocket(1000, "reconnecting");
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._forgetSync();
    this._connect();
  }

  /** The socket is gone: a catch-up for a new region that did not complete leaves our objects neither
   * the old region's nor the new one's, so the next connection starts from a snapshot. */
  _forgetSync() {
    if (this._pendingRegion || this._syncRegionPending) this._syncedRegion = null;
    this._syncing = false;
    this._pendingRegion = null;
    this._syncRegionPending = null;
  }

  _online() {
    if (this._running && !this._ws) this._reconnectNow();
  }

  _offline() {
    if (!this._running) return;
    this._dropSocket(1000, "offline");
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._forgetSync();
    this._setState("offline");
  }

  _checkSilence() {
    if (this._ws && Date.now() - this._lastHeard > SILENCE_LIMIT_MS) {
      this._emit("error", { code: "silent", message: "nothing heard from the server; reconnecting" });
      this._dropSocket(4000, "silent");
      this._onClose(4000, "silent");
    }
  }

  _fallBackToJson(error) {
    if (this.format === "json") throw error;
    this.format = "json";
    this._emit("error", { code: "decode_failed", message: `protobuf: ${error.message}; using JSON` });
  }

  // --- messages ---------------------------------------------------------------------------------------

  _send(message) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return;
    ws.send(this.format === "json" ? JSON.stringify(message) : encode("ClientMessage", message));
  }

  _decodeServer(data) {
    if (typeof data === "string") {
      const raw = JSON.parse(data);
      const message = fromJson("ServerMessage", raw);
      const updates = raw.batch?.updates;
      if (updates) {
        // The JSON mirror carries each object as JSON, not as bytes.
        message.batch.updates.forEach((update, i) => {
          update.data = updates[i].data;
        });
      }
      return message;
    }
    return decode("ServerMessage", new Uint8Array(data));
  }

  _objectOf(kind, data) {
    const type = MESSAGE_OF_KIND[kind];
    const message = data instanceof Uint8Array ? decode(type, data) : fromJson(type, data);
    return withIdentity(kind, message);
  }

  /** A compact update: the pilot the client has, moved as the PilotMotion says (units in fanet.proto). */
  _moved(motion, timestamp) {
    const known = this._objects.get(`pilot:${formatAddress(motion.addr)}`);
    const pilot = known ? { ...known } : this._objectOf("pilot", new Uint8Array(0));
    pilot.addr = motion.addr;
    const { latitude, longitude, altitude } = motion;
    pilot.position = { latitude: latitude / 1e5, longitude: longitude / 1e5, altitude };
    pilot.altitude = motion.altitude;
    pilot.speed = motion.speed / 10;
    pilot.climb = motion.climb / 10;
    pilot.course = motion.course / 10;
    pilot.last_update = timestamp - motion.age;
    this.compactUpdates += 1;
    return withIdentity("pilot", pilot);
  }

  _onMessage(data) {
    this._lastHeard = Date.now();
    let message;
    try {
      message = this._decodeServer(data);
      if (message.batch) this._applyBatch(message.batch);
    } catch (error) {
      if (typeof data !== "string" && this.format === "protobuf") {
        this._fallBackToJson(error);
        this._reconnectNow();
      } else {
        this._emit("error", { code: "invalid_message", message: error.message });
      }
      return;
    }
    if (message.welcome) this._onWelcome(message.welcome);
    else if (message.ping) this._send({ pong: { timestamp: message.ping.timestamp, server_time: 0 } });
    else if (message.subscribe_response) this._onSubscribed(message.subscribe_response);
    else if (message.error) this._onServerError(message.error);
  }

  _onWelcome(welcome) {
    this._clockOffsetS = welcome.server_time - Date.now() / 1000;
    if (this._connectedWith === 0 && this._objects.size) this._reset(); // the server sends everything
    this._syncing = true;
    this._everLive = true;
    this._setState("live");
    clearTimeout(this._steadyTimer);
    this._steadyTimer = setTimeout(() => {
      this._attempt = 0;
    }, STEADY_AFTER_MS);
    this._syncedRegion = this._socketRegion; // what we hold is for it (resumed, or about to be sent)
    if (!sameRegion(this._region, this._socketRegion)) this._sendSubscribe(); // moved while connecting
  }

  _onSubscribed(response) {
    if (!response.success) {
      this._emit("error", { code: "subscribe_failed", message: response.error });
      return;
    }
    this._syncing = true; // the catch-up for the new region follows
    const answered = this._pendingRegion;
    this._pendingRegion = null;
    if (answered) this._syncRegionPending = answered;
    if (answered && !sameRegion(answered, this._region)) this._sendSubscribe(); // moved meanwhile
  }

  _onServerError(error) {
    this._emit("error", { code: error.code, message: error.message });
    if (error.code === "resume_unavailable") {
      this._reset(); // a fresh snapshot follows on the socket
      this._sequence = this._highest = 0;
      this._syncing = true;
    } else if (error.code === "rate_limited" || error.code === "invalid_parameter") {
      if (this._pendingRegion) {
        this._pendingRegion = null;
        this._subscribeTimer = setTimeout(() => this._sendSubscribe(), 10_000);
      }
    }
  }

  _sendSubscribe() {
    clearTimeout(this._subscribeTimer);
    this._subscribeTimer = null;
    const now = Date.now();
    this._subscribeTimes = this._subscribeTimes.filter((at) => now - at < 60_000);
    if (this._subscribeTimes.length >= SUBSCRIPTIONS_PER_MINUTE) {
      const waitMs = 60_000 - (now - this._subscribeTimes[0]) + 100;
      this._subscribeTimer = setTimeout(() => this._sendSubscribe(), waitMs);
      return;
    }
    const { lat, lon, radiusKm } = this._region;
    this._subscribeTimes.push(now);
    this._pendingRegion = this._region;
    this._send({ subscribe: { center: { latitude: lat, longitude: lon, altitude: 0 }, radius: radiusKm } });
  }

  _applyBatch(batch) {
    const changes = [];
    for (const update of batch.updates) {
      const kind = KIND_OF_UPDATE[update.type];
      if (!kind) continue; // an update type newer than this client
      const object = update.motion
        ? this._moved(update.motion, batch.timestamp)
        : this._objectOf(kind, update.data);
      const id = `${kind}:${object.key}`;
      const previous = this._objects.get(id);
      if (update.action === "ACTION_REMOVE") {
        if (previous) {
          this._objects.delete(id);
          changes.push({ action: "remove", object: previous, previous });
        }
      } else {
        this._objects.set(id, object); // UPDATE of an unknown object (after a resume) adds it
        changes.push({ action: previous ? "update" : "add", object, previous });
      }
      if (update.sequence > this._highest) this._highest = update.sequence;
    }
    if (this._syncing && batch.updates.length < BATCH_LIMIT) {
      this._syncing = false;
      this._syncedRegion = this._syncRegionPending ?? this._syncedRegion ?? this._region;
      this._syncRegionPending = null;
      this._prune(changes);
    }
    if (!this._syncing) this._sequence = Math.max(this._sequence, this._highest);
    this._changed(changes, "live");
  }

  /** Drop what lies outside the synced circle: the server only removes what it knows we have. */
  _prune(changes) {
    const region = this._syncedRegion;
    if (!region) return;
    const limit = region.radiusKm * 1.01 + 0.1;
    for (const [id, object] of this._objects) {
      const at = object.position;
      if (at && distanceKm(region.lat, region.lon, at.latitude, at.longitude) > limit) {
        this._objects.delete(id);
        changes.push({ action: "remove", object, previous: object });
      }
    }
  }

  _reset() {
    this._objects = new Map();
    this._emit("reset", {});
  }

  _changed(changes, source) {
    this._updatedAt = Date.now();
    this._emit("change", { changes, sequence: this._sequence, source });
  }

  _setState(state, extra = {}) {
    const previous = this._state;
    this._state = state;
    this._emit("state", { state, previous, retryInS: null, ...extra });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
