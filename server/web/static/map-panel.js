/**
 * map-panel.js — the text around the map: the details of the selected object (#details), the list of
 * calls for help (#alerts) and the status line (#status).
 *
 * Pure DOM rendering from the objects the client holds; map.js decides when. The hooks the browser
 * tests use are kept here: #details[data-addr], li[data-addr] in #alerts, and #status with data-state,
 * data-objects and data-updated.
 */

import { formatAddress } from "./fanet-client.js";
import {
  AIRCRAFT_NAMES,
  GROUND_NAMES,
  displayName,
  formatAge,
  formatClimb,
  formatKmh,
} from "./map-markers.js";

const KIND_NAMES = {
  pilot: "Pilot",
  ground: "On the ground",
  thermal: "Thermal",
  station: "Weather station",
  basestation: "Base station",
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function rowsOf(object, view, extra) {
  const ago = (unixS) => (unixS ? `${formatAge(unixS, view.nowS)} ago` : "—");
  const address = object.addr ? formatAddress(object.addr) : "—";
  switch (object.kind) {
    case "pilot":
      return [
        ["Aircraft", AIRCRAFT_NAMES[object.type] ?? String(object.type)],
        ["Address", address],
        ["Altitude", `${object.altitude} m`],
        ["Climb", formatClimb(object.climb)],
        ["Speed", `${Math.round(object.speed)} km/h`],
        ["Course", `${Math.round(object.course)}°`],
        ["Battery", object.battery ? `${object.battery} %` : "—"],
        ["Last heard", ago(object.last_update)],
        ["Track", extra.track ?? "—"],
      ];
    case "ground":
      return [
        ["State", GROUND_NAMES[object.type] ?? String(object.type)],
        ["Address", address],
        ["Position", `${object.position.latitude.toFixed(5)}, ${object.position.longitude.toFixed(5)}`],
        ["Last heard", ago(object.last_update)],
      ];
    case "thermal":
      return [
        ["Climb", formatClimb(object.climb)],
        ["Quality", `${object.quality} of 7`],
        ["Altitude", `${object.altitude} m`],
        ["Wind there", `${formatKmh(object.wind_speed)} from ${Math.round(object.wind_heading)}°`],
        ["Reported by", formatAddress(object.addr)],
        ["Reported", ago(object.timestamp)],
      ];
    case "station":
      return [
        ["Address", address],
        ["Wind", `${formatKmh(object.wind_speed)} from ${Math.round(object.wind_heading)}°`],
        ["Gusts", formatKmh(object.wind_gusts)],
        ["Temperature", `${object.temperature.toFixed(1)} °C`],
        ["Humidity", object.humidity ? `${object.humidity} %` : "—"],
        ["Pressure", object.pressure ? `${object.pressure.toFixed(1)} hPa` : "—"],
        ["Battery", object.battery ? `${object.battery} %` : "—"],
        ["Last report", ago(object.last_update)],
      ];
    default:
      return [
        ["Station id", object.name],
        ["FANET address", address],
        ["Last seen", ago(object.last_seen)],
        ["Frames", `${object.frames_per_minute.toFixed(1)} per minute`],
        ["Signal", object.rssi_avg ? `${object.rssi_avg.toFixed(0)} dBm, SNR ${object.snr_avg.toFixed(1)} dB` : "—"],
        ["Hears", `${object.heard_addrs.length} devices`],
      ];
  }
}

/** Show `object` in #details (or hide it for null); `extra.track` is the track's state in words. */
export function renderDetails(container, object, view, extra, onClose) {
  if (!object) {
    container.hidden = true;
    container.replaceChildren();
    delete container.dataset.addr;
    delete container.dataset.kind;
    return;
  }
  const header = element("header", "details-header");
  const title = element("h2", "", displayName(object));
  const close = element("button", "details-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close details");
  close.addEventListener("click", onClose);
  header.append(element("span", "details-kind", KIND_NAMES[object.kind]), title, close);
  const list = element("dl");
  for (const [term, value] of rowsOf(object, view, extra)) {
    list.append(element("dt", "", term), element("dd", "", value));
  }
  container.replaceChildren(header, list);
  container.dataset.addr = object.kind === "basestation" ? object.key : formatAddress(object.addr);
  container.dataset.kind = object.kind;
  container.classList.toggle("details-alarm", object.kind === "ground" && extra.distress);
  container.hidden = false;
}

/** One li[data-addr] per object asking for help, most recent first; the list hides when empty. */
export function renderAlerts(list, objects, view, onSelect) {
  const sorted = [...objects].sort((a, b) => b.last_update - a.last_update);
  const items = sorted.map((object) => {
    const item = element("li", "alert");
    item.dataset.addr = formatAddress(object.addr);
    item.tabIndex = 0;
    item.setAttribute("role", "button");
    item.append(
      element("strong", "", GROUND_NAMES[object.type] ?? "Needs help"),
      element("span", "", ` ${displayName(object)} · ${formatAge(object.last_update, view.nowS)} ago`),
    );
    item.addEventListener("click", () => onSelect(object));
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") onSelect(object);
    });
    return item;
  });
  list.replaceChildren(...items);
  list.hidden = items.length === 0;
  document.body.classList.toggle("has-alerts", items.length > 0);
}

const STATE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost",
  offline: "Offline",
};

/** The status line: connection state, objects shown, time of the last update. */
export function renderStatus(status, { state, retryInS, shown, updatedAt, notes }) {
  status.dataset.state = state;
  status.dataset.objects = String(shown);
  status.dataset.updated = updatedAt ? String(updatedAt) : "";
  let text = STATE_TEXT[state] ?? state;
  if (state !== "live" && retryInS) text += ` — retrying in ${retryInS} s`;
  text += ` · ${shown} shown`;
  if (updatedAt) text += ` · updated ${new Date(updatedAt).toLocaleTimeString([], { hour12: false })}`;
  for (const note of notes) text += ` · ${note}`;
  const target = status.querySelector("#status-text") ?? status;
  if (target.textContent !== text) target.textContent = text;
}
