/**
 * map-markers.js — how each kind of object looks on the live map (Leaflet markers built from DOM).
 *
 * Every marker's element is made once and kept for the object's life (PersistentIcon), so its classes
 * and data attributes survive Leaflet removing and re-adding the marker (filters), and an update only
 * changes what changed. The element carries the page's test hooks: class `fanet-object` plus
 * `fanet-pilot` | `fanet-ground` | `fanet-thermal` | `fanet-station` | `fanet-basestation`,
 * `data-addr`; pilots `data-lat`, `data-lon`, `data-aircraft`; `fanet-stale` and `fanet-distress`.
 * Everything is built with DOM calls and styled by classes and CSS custom properties, never with
 * inline style attributes, so the page runs under a Content-Security-Policy without 'unsafe-inline'.
 */

import { formatAddress, isDistress } from "./fanet-client.js";

const SVG = "http://www.w3.org/2000/svg";

export const AIRCRAFT_NAMES = {
  PILOT_TYPE_UNKNOWN: "Other aircraft",
  PILOT_TYPE_PARAGLIDER: "Paraglider",
  PILOT_TYPE_HANG_GLIDER: "Hang glider",
  PILOT_TYPE_BALLOON: "Balloon",
  PILOT_TYPE_GLIDER: "Glider",
  PILOT_TYPE_POWERED: "Powered aircraft",
  PILOT_TYPE_HELICOPTER: "Helicopter",
  PILOT_TYPE_UAV: "Drone",
};

export const GROUND_NAMES = {
  GROUND_TYPE_OTHER: "On the ground",
  GROUND_TYPE_WALKING: "Walking",
  GROUND_TYPE_VEHICLE: "Vehicle",
  GROUND_TYPE_BIKE: "Bike",
  GROUND_TYPE_BOAT: "Boat",
  GROUND_TYPE_NEED_RIDE: "Landed, needs a ride",
  GROUND_TYPE_LANDED_WELL: "Landed, all fine",
  GROUND_TYPE_NEED_TECHNICAL_SUPPORT: "Needs technical support",
  GROUND_TYPE_NEED_MEDICAL_HELP: "NEEDS MEDICAL HELP",
  GROUND_TYPE_DISTRESS_CALL: "DISTRESS CALL",
  GROUND_TYPE_DISTRESS_CALL_AUTO: "DISTRESS CALL (automatic)",
};

// Drawn on a 24×24 grid centred on 0,0: [element, attributes] pairs per ground state.
const GROUND_SYMBOLS = {
  GROUND_TYPE_WALKING: [
    ["circle", { cx: 0, cy: -6, r: 2.4 }],
    ["path", { d: "M0 -3 L0 3 M0 3 L-3 8 M0 3 L3 8 M-4 -1 L4 -1", class: "fanet-stroke" }],
  ],
  GROUND_TYPE_VEHICLE: [
    ["path", { d: "M-8 2 L-6 -3 L6 -3 L8 2 L8 5 L-8 5 Z" }],
    ["circle", { cx: -4.5, cy: 5.5, r: 2 }],
    ["circle", { cx: 4.5, cy: 5.5, r: 2 }],
  ],
  GROUND_TYPE_BIKE: [
    ["circle", { cx: -5, cy: 3, r: 3.5, class: "fanet-stroke" }],
    ["circle", { cx: 5, cy: 3, r: 3.5, class: "fanet-stroke" }],
    ["path", { d: "M-5 3 L-1 -4 L4 -4 L5 3 M-1 -4 L0 3 L4 -4", class: "fanet-stroke" }],
  ],
  GROUND_TYPE_BOAT: [
    ["path", { d: "M-8 3 L8 3 L5 7 L-5 7 Z" }],
    ["path", { d: "M0 2 L0 -8 L6 1 Z" }],
  ],
  GROUND_TYPE_NEED_RIDE: [["text", { y: 4.5 }, "?"]],
  GROUND_TYPE_LANDED_WELL: [["path", { d: "M-6 0 L-2 5 L7 -5", class: "fanet-stroke" }]],
  GROUND_TYPE_NEED_TECHNICAL_SUPPORT: [["text", { y: 4.5 }, "!"]],
  GROUND_TYPE_NEED_MEDICAL_HELP: [["path", { d: "M-2.5 -8 H2.5 V-2.5 H8 V2.5 H2.5 V8 H-2.5 V2.5 H-8 V-2.5 H-2.5 Z" }]],
  GROUND_TYPE_DISTRESS_CALL: [["text", { y: 3.5, class: "fanet-sos" }, "SOS"]],
  GROUND_TYPE_DISTRESS_CALL_AUTO: [["text", { y: 3.5, class: "fanet-sos" }, "SOS"]],
};

function svg(viewBox, parts) {
  const root = document.createElementNS(SVG, "svg");
  root.setAttribute("viewBox", viewBox);
  root.setAttribute("aria-hidden", "true");
  root.classList.add("fanet-glyph");
  for (const [tag, attributes, text] of parts) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text) node.textContent = text;
    root.append(node);
  }
  return root;
}

function div(className, text = "") {
  const node = document.createElement("div");
  node.className = className;
  node.textContent = text;
  return node;
}

/** "+1.2 m/s" / "−0.8 m/s" (a real minus sign, so the column does not jump). */
export function formatClimb(ms) {
  const value = Math.round(ms * 10) / 10;
  return `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value).toFixed(1)} m/s`;
}

export function formatKmh(ms) {
  return `${Math.round(ms * 3.6)} km/h`;
}

/** "12 s", "5 min", "3 h" — how long ago a unix time was, by `nowS`. */
export function formatAge(unixS, nowS) {
  const age = Math.max(0, nowS - unixS);
  if (age < 90) return `${Math.round(age)} s`;
  if (age < 5400) return `${Math.round(age / 60)} min`;
  if (age < 172800) return `${Math.round(age / 3600)} h`;
  return `${Math.round(age / 86400)} d`;
}

/** The name people know an object by: its name, else its address (a thermal: who reported it). */
export function displayName(object) {
  if (object.kind === "basestation") return object.name;
  if (object.kind === "thermal") return `Thermal ${object.key}`;
  return object.name || formatAddress(object.addr);
}

/** The layer key of a base station (base stations are not live objects: the page polls them). */
export function baseStationObject(message) {
  message.kind = "basestation";
  message.key = message.name;
  return message;
}

/** The kind checkbox value ("pilots" …) of an object. */
export const FILTER_OF_KIND = {
  pilot: "pilots",
  ground: "ground",
  thermal: "thermals",
  station: "stations",
  basestation: "basestations",
};

const Z_OFFSET = { basestation: -2000, thermal: -1000, station: 0, ground: 1000, pilot: 2000 };
const DISTRESS_Z = 100000;

/** One object's marker; `update(object, view)` redraws it, view = {nowS, staleAfterS}. */
export class ObjectMarker {
  constructor(L, object, onSelect) {
    this.kind = object.kind;
    this.object = object;
    this.element = div(`leaflet-marker-icon fanet-object fanet-${object.kind}`);
    this.element.dataset.addr = object.kind === "basestation" ? object.key : formatAddress(object.addr ?? 0);
    if (object.kind === "thermal") this.element.dataset.addr = formatAddress(object.addr);
    this.label = div("fanet-label");
    this._build(object);
    this.element.append(this.label);
    this.marker = L.marker(this._latLng(object), {
      icon: new PersistentIcon({ element: this.element }),
      keyboard: true,
      riseOnHover: true,
      zIndexOffset: Z_OFFSET[object.kind],
    });
    this.marker.on("click", () => onSelect(this.object));
    this.marker.on("keypress", (event) => {
      if (event.originalEvent.key === "Enter") onSelect(this.object);
    });
  }

  _latLng(object) {
    return [object.position.latitude, object.position.longitude];
  }

  _build(object) {
    const el = this.element;
    if (object.kind === "pilot") {
      this.glyph = svg("-14 -14 28 28", [["path", { d: "M0 -12 L8.5 10 L0 5 L-8.5 10 Z", class: "fanet-arrow" }]]);
      el.append(this.glyph);
    } else if (object.kind === "thermal") {
      el.append(div("fanet-thermal-disc"));
    } else if (object.kind === "station") {
      this.glyph = svg("-14 -14 28 28", [["path", { d: "M0 -11 L0 7 M-5 2 L0 9 L5 2", class: "fanet-wind" }]]);
      el.append(div("fanet-station-disc"), this.glyph);
    } else if (object.kind === "basestation") {
      el.append(
        svg("-12 -12 24 24", [
          ["path", { d: "M0 -4 L-6 10 M0 -4 L6 10 M-3.5 4 L3.5 4", class: "fanet-stroke" }],
          ["circle", { cx: 0, cy: -5, r: 2.5 }],
          ["path", { d: "M-6 -10 A8 8 0 0 0 -6 0 M6 -10 A8 8 0 0 1 6 0", class: "fanet-stroke" }],
        ]),
      );
    }
  }

  /** Redraw for `object` (the newest state) at time `view.nowS` (server clock). */
  update(object, view) {
    const el = this.element;
    const previous = this.object;
    this.object = object;
    if (object.position) this.marker.setLatLng(this._latLng(object));
    const distress = isDistress(object);
    el.classList.toggle("fanet-distress", distress);
    this.marker.setZIndexOffset(distress ? DISTRESS_Z : Z_OFFSET[object.kind]);
    el.title = this._title(object);
    if (object.kind === "pilot") this._pilot(object, view);
    else if (object.kind === "ground") this._ground(object, previous);
    else if (object.kind === "thermal") this._thermal(object);
    else if (object.kind === "station") this._station(object);
    else this._baseStation(object, view);
  }

  /** Only what depends on the clock: staleness and ages. */
  tick(view) {
    if (this.kind === "pilot") {
      this.element.classList.toggle("fanet-stale", view.nowS - this.object.last_update > view.staleAfterS);
    } else if (this.kind === "basestation") {
      this._baseStation(this.object, view);
    }
  }

  _title(object) {
    return `${displayName(object)} (${object.kind === "basestation" ? object.key : formatAddress(object.addr)})`;
  }

  _setLabel(lines) {
    const label = this.label;
    while (label.childNodes.length > lines.length) label.lastChild.remove();
    lines.forEach(([text, className], i) => {
      let line = label.childNodes[i];
      if (!line) {
        line = document.createElement("span");
        label.append(line);
      }
      if (line.textContent !== text) line.textContent = text;
      line.className = className ?? "";
    });
  }

  _pilot(pilot, view) {
    const el = this.element;
    el.dataset.lat = String(pilot.position.latitude);
    el.dataset.lon = String(pilot.position.longitude);
    el.dataset.aircraft = String(pilot.type);
    el.classList.toggle("fanet-stale", view.nowS - pilot.last_update > view.staleAfterS);
    this.glyph.style.transform = `rotate(${pilot.course}deg)`;
    const climbClass = pilot.climb >= 0.2 ? "fanet-up" : pilot.climb <= -0.2 ? "fanet-down" : "";
    this._setLabel([
      [displayName(pilot), "fanet-name"],
      [`${pilot.altitude} m `, ""],
      [formatClimb(pilot.climb), climbClass],
    ]);
  }

  _ground(ground, previous) {
    if (!this.glyph || previous.type !== ground.type) {
      this.glyph?.remove();
      const symbol = GROUND_SYMBOLS[ground.type] ?? [["circle", { r: 3 }]];
      this.glyph = svg("-12 -12 24 24", [["circle", { r: 11, class: "fanet-badge" }], ...symbol]);
      this.element.prepend(this.glyph);
      this.element.dataset.ground = String(ground.type);
    }
    const lines = [[displayName(ground), "fanet-name"]];
    if (isDistress(ground)) lines.push([GROUND_NAMES[ground.type], "fanet-alarm"]);
    this._setLabel(lines);
  }

  _thermal(thermal) {
    const size = 14 + Math.min(7, thermal.quality) * 4;
    this.element.style.setProperty("--fanet-size", `${size}px`);
    this.element.dataset.quality = String(thermal.quality);
    this._setLabel([[formatClimb(thermal.climb), "fanet-up"]]);
  }

  _station(station) {
    const calm = station.wind_speed < 0.5;
    this.glyph.classList.toggle("fanet-calm", calm);
    // wind_heading is where the wind comes from; the glyph points south at 0°, so turned by the
    // heading it points where the wind blows.
    this.glyph.style.transform = `rotate(${station.wind_heading}deg)`;
    const wind = calm
      ? "calm"
      : `${Math.round(station.wind_speed * 3.6)}–${Math.round(Math.max(station.wind_gusts, station.wind_speed) * 3.6)} km/h`;
    this._setLabel([
      [displayName(station), "fanet-name"],
      [`${wind} · ${Math.round(station.temperature)} °C`, ""],
    ]);
  }

  _baseStation(station, view) {
    const offline = view.nowS - station.last_seen > 600;
    this.element.classList.toggle("fanet-offline", offline);
    this._setLabel([
      [station.name, "fanet-name"],
      [`seen ${formatAge(station.last_seen, view.nowS)} ago`, ""],
    ]);
  }
}

/** A Leaflet icon that hands out the same element every time (see the module docstring). */
const PersistentIcon = globalThis.L.Icon.extend({
  createIcon() {
    return this.options.element;
  },
  createShadow() {
    return null;
  },
});
