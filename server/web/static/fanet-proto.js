/**
 * fanet-proto.js — the protobuf wire format of the client API (package fanet.v1), for browsers.
 *
 * A small codec driven by the generated schema table (fanet-schema.js, made from proto/fanet.proto), so
 * that no code is compiled at run time (a strict Content-Security-Policy forbids `eval`) and no build
 * step is needed. Both directions produce and take the shape of the server's JSON mirror, so a client
 * handles protobuf and JSON alike:
 *   - field names as in the .proto (`last_update`, `ground_objects`);
 *   - enums by name (`"PILOT_TYPE_PARAGLIDER"`; a value the schema does not name stays a number);
 *   - every scalar field present (proto3 zero when not sent), repeated fields as arrays, message fields
 *     and oneof members only when sent;
 *   - 64-bit integers as JavaScript numbers (exact up to 2^53, which sequences and times stay below);
 *   - floats as the shortest decimal that reads back as the same 32-bit float (35.2, not 35.2000007).
 *
 * decode(type, bytes) and encode(type, object) work on Uint8Array; fromJson(type, value) brings a JSON
 * mirror object (64-bit integers as strings) into the same shape. Malformed input throws ProtoError.
 */

import { ENUMS, MESSAGES } from "./fanet-schema.js";

const TWO_32 = 4294967296;
const textDecoder = new TextDecoder("utf-8");
const textEncoder = new TextEncoder();
const VARINT_TYPES = new Set(["int32", "sint32", "int64", "uint32", "uint64", "bool", "enum"]);
const ENUM_NUMBERS = Object.fromEntries(
  Object.entries(ENUMS).map(([name, values]) => [
    name,
    Object.fromEntries(Object.entries(values).map(([number, label]) => [label, Number(number)])),
  ]),
);

/** Input that is not a valid message of the expected type. */
export class ProtoError extends Error {
  constructor(message) {
    super(message);
    this.name = "ProtoError";
  }
}

function fieldsOf(type) {
  const fields = MESSAGES[type];
  if (!fields) throw new ProtoError(`unknown message type ${type}`);
  return fields;
}

// --- decoding --------------------------------------------------------------------------------------

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  byte() {
    if (this.pos >= this.bytes.length) throw new ProtoError("truncated message");
    return this.bytes[this.pos++];
  }

  /** A varint as its low and high 32 bits (unsigned). */
  varint() {
    let lo = 0;
    let hi = 0;
    let b;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return [lo >>> 0, 0];
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return [lo >>> 0, hi >>> 0];
    for (let shift = 3; shift < 32; shift += 7) {
      b = this.byte();
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    throw new ProtoError("varint longer than 10 bytes");
  }

  take(length) {
    if (length > this.bytes.length - this.pos) throw new ProtoError("truncated message");
    const slice = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return slice;
  }

  lengthDelimited() {
    const [lo, hi] = this.varint();
    if (hi) throw new ProtoError("length beyond 4 GB");
    return this.take(lo);
  }

  fixed(size) {
    const at = this.pos;
    this.take(size);
    return at;
  }

  skip(wireType) {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.take(8);
    else if (wireType === 2) this.lengthDelimited();
    else if (wireType === 5) this.take(4);
    else throw new ProtoError(`unsupported wire type ${wireType}`);
  }
}

function signed64(lo, hi) {
  if (hi & 0x80000000) {
    let low = (~lo + 1) >>> 0;
    let high = ~hi >>> 0;
    if (low === 0) high = (high + 1) >>> 0;
    return -(high * TWO_32 + low);
  }
  return hi * TWO_32 + lo;
}

function shortestFloat(value) {
  if (!Number.isFinite(value)) return value;
  for (let digits = 6; digits < 10; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

function varintValue(type, ref, lo, hi) {
  switch (type) {
    case "int32":
      return lo | 0;
    case "uint32":
      return lo;
    case "sint32":
      return (lo >>> 1) ^ -(lo & 1); // zigzag
    case "int64":
      return signed64(lo, hi);
    case "uint64":
      return hi * TWO_32 + lo;
    case "bool":
      return (lo | hi) !== 0;
    default: {
      const number = lo | 0;
      return ENUMS[ref][number] ?? number;
    }
  }
}

function readScalar(reader, type, ref, wireType) {
  if (VARINT_TYPES.has(type)) {
    if (wireType !== 0) throw new ProtoError(`expected a varint for ${type}`);
    const [lo, hi] = reader.varint();
    return varintValue(type, ref, lo, hi);
  }
  if (type === "double") {
    if (wireType !== 1) throw new ProtoError("expected 8 bytes for a double");
    return reader.view.getFloat64(reader.fixed(8), true);
  }
  if (type === "float") {
    if (wireType !== 5) throw new ProtoError("expected 4 bytes for a float");
    return shortestFloat(reader.view.getFloat32(reader.fixed(4), true));
  }
  if (wireType !== 2) throw new ProtoError(`expected a length-delimited ${type}`);
  const bytes = reader.lengthDelimited();
  if (type === "string") return textDecoder.decode(bytes);
  if (type === "bytes") return bytes.slice();
  return decode(ref, bytes);
}

function defaultValue(type, ref) {
  switch (type) {
    case "string":
      return "";
    case "bool":
      return false;
    case "bytes":
      return new Uint8Array(0);
    case "enum":
      return ENUMS[ref][0] ?? 0;
    default:
      return 0;
  }
}

function withDefaults(type, object) {
  for (const [, name, fieldType, ref, repeated, oneof] of fieldsOf(type)) {
    if (name in object || oneof || (fieldType === "message" && !repeated)) continue;
    object[name] = repeated ? [] : defaultValue(fieldType, ref);
  }
  return object;
}

/** The message `type` (a name in the schema, e.g. "ServerMessage") from its encoded bytes. */
export function decode(type, bytes) {
  const fields = fieldsOf(type);
  const byNumber = new Map(fields.map((field) => [field[0], field]));
  const reader = new Reader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const object = {};
  while (reader.pos < reader.bytes.length) {
    const [key, keyHigh] = reader.varint();
    const number = key >>> 3;
    const wireType = key & 7;
    if (keyHigh || number === 0) throw new ProtoError("invalid field number");
    const field = byNumber.get(number);
    if (!field) {
      reader.skip(wireType);
      continue;
    }
    const [, name, fieldType, ref, repeated, oneof] = field;
    if (!repeated) {
      if (oneof) for (const other of fields) if (other[5] === oneof) delete object[other[1]];
      object[name] = readScalar(reader, fieldType, ref, wireType);
      continue;
    }
    const list = object[name] ?? (object[name] = []);
    if (wireType === 2 && fieldType !== "string" && fieldType !== "bytes" && fieldType !== "message") {
      const packed = new Reader(reader.lengthDelimited()); // packed scalars, proto3's default
      const elementWire = fieldType === "double" ? 1 : fieldType === "float" ? 5 : 0;
      while (packed.pos < packed.bytes.length) list.push(readScalar(packed, fieldType, ref, elementWire));
    } else {
      list.push(readScalar(reader, fieldType, ref, wireType));
    }
  }
  return withDefaults(type, object);
}

// --- the JSON mirror ---------------------------------------------------------------------------------

function fromJsonScalar(type, ref, value) {
  if (value === null || value === undefined) return defaultValue(type, ref);
  switch (type) {
    case "int64":
    case "uint64":
    case "int32":
    case "sint32":
    case "uint32":
    case "double":
    case "float":
      return typeof value === "string" ? Number(value) : value;
    case "message":
      return fromJson(ref, value);
    case "bytes":
      return typeof value === "string" ? Uint8Array.from(atob(value), (c) => c.charCodeAt(0)) : value;
    default:
      return value;
  }
}

/** A message of `type` from the server's JSON mirror, in the shape `decode` gives. */
export function fromJson(type, value) {
  if (value === null || typeof value !== "object") throw new ProtoError(`${type}: expected an object`);
  const object = {};
  for (const [, name, fieldType, ref, repeated] of fieldsOf(type)) {
    if (!(name in value)) continue;
    const raw = value[name];
    object[name] = repeated
      ? (Array.isArray(raw) ? raw : []).map((item) => fromJsonScalar(fieldType, ref, item))
      : fromJsonScalar(fieldType, ref, raw);
  }
  return withDefaults(type, object);
}

// --- encoding ----------------------------------------------------------------------------------------

class Writer {
  constructor() {
    this.bytes = [];
  }

  varint(lo, hi = 0) {
    while (hi || lo > 0x7f) {
      this.bytes.push((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.bytes.push(lo);
  }

  number(value) {
    const integer = Math.trunc(value);
    if (integer >= 0) {
      this.varint(integer % TWO_32 >>> 0, Math.floor(integer / TWO_32) >>> 0);
      return;
    }
    const magnitude = -integer; // two's complement over 64 bits, as protobuf encodes negative ints
    let lo = (~(magnitude % TWO_32) + 1) >>> 0;
    let hi = ~Math.floor(magnitude / TWO_32) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    this.varint(lo, hi);
  }

  raw(bytes) {
    for (const b of bytes) this.bytes.push(b);
  }

  fixed(size, write) {
    const buffer = new DataView(new ArrayBuffer(size));
    write(buffer);
    this.raw(new Uint8Array(buffer.buffer));
  }
}

function isDefault(type, value) {
  if (type === "message") return value === undefined || value === null;
  if (type === "string") return value === "" || value === undefined;
  if (type === "bytes") return !value || value.length === 0;
  if (type === "enum") return value === undefined || value === null; // zero checked by number below
  return !value;
}

function enumNumber(ref, value) {
  if (typeof value === "number") return value;
  const number = ENUM_NUMBERS[ref][value];
  if (number === undefined) throw new ProtoError(`${value} is not a value of ${ref}`);
  return number;
}

function writeValue(writer, type, ref, value) {
  switch (type) {
    case "double":
      writer.fixed(8, (view) => view.setFloat64(0, value, true));
      return;
    case "float":
      writer.fixed(4, (view) => view.setFloat32(0, value, true));
      return;
    case "bool":
      writer.varint(value ? 1 : 0);
      return;
    case "enum":
      writer.number(enumNumber(ref, value));
      return;
    case "sint32":
      writer.varint(((value << 1) ^ (value >> 31)) >>> 0); // zigzag
      return;
    case "string":
    case "bytes":
    case "message": {
      const bytes =
        type === "string" ? textEncoder.encode(value) : type === "bytes" ? value : encode(ref, value);
      writer.varint(bytes.length);
      writer.raw(bytes);
      return;
    }
    default:
      writer.number(Number(value));
  }
}

function wireTypeOf(type) {
  if (type === "double") return 1;
  if (type === "float") return 5;
  if (VARINT_TYPES.has(type)) return 0;
  return 2;
}

/** The bytes of `object` as the message `type` (fields left out or at their zero are not written). */
export function encode(type, object) {
  const writer = new Writer();
  for (const [number, name, fieldType, ref, repeated, oneof] of fieldsOf(type)) {
    const value = object[name];
    if (repeated) {
      if (!value || value.length === 0) continue;
      if (wireTypeOf(fieldType) !== 2) {
        const packed = new Writer();
        for (const item of value) writeValue(packed, fieldType, ref, item);
        writer.varint((number << 3) | 2);
        writer.varint(packed.bytes.length);
        writer.raw(packed.bytes);
      } else {
        for (const item of value) {
          writer.varint((number << 3) | 2);
          writeValue(writer, fieldType, ref, item);
        }
      }
      continue;
    }
    if (oneof ? value === undefined || value === null : isDefault(fieldType, value)) continue;
    if (fieldType === "enum" && !oneof && enumNumber(ref, value) === 0) continue;
    writer.varint((number << 3) | wireTypeOf(fieldType));
    writeValue(writer, fieldType, ref, value);
  }
  return Uint8Array.from(writer.bytes);
}
