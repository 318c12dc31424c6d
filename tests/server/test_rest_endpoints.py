"""Every read endpoint against a store fed by radio frames through the pipeline, on both stores.

The world: two pilots (one named), a landed pilot on the ground, a thermal, a weather station, all
heard by base station ``FB0042``; a pilot far away outside every query. Each endpoint is checked in
JSON and in protobuf, and the two must decode to the same content.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from google.protobuf.message import Message
from quart_trio import QuartTrio
from services import RedisServer

from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    GroundTracking,
    GroundType,
    Name,
    ReceivedFrame,
    Service,
    encode_frame,
)
from fanet.proto import Thermal as ThermalReport
from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import to_dict
from fanet.server.model import LiveObject
from fanet.server.pipeline import Pipeline, PipelineSettings
from fanet.server.rest import RestSettings, create_app
from fanet.server.store import MemoryStore, RedisStore, Store

T0 = 1_750_000_000.0
NOW = T0 + 60
PILOT = 0x110B90
PILOT_2 = 0x110B91
FAR = 0x110B92
LANDED = 0x200C9E
STATION = 0xFB1234
PROTOBUF = {"Accept": "application/x-protobuf"}


def heard(addr: int, payload: object, t: float) -> ReceivedFrame:
    return ReceivedFrame("FB0042", t, -95, 6, encode_frame(Frame(addr, payload)))


def world_frames() -> list[ReceivedFrame]:
    frames = [heard(PILOT, Name("Anna"), T0)]
    for step in range(3):
        t = T0 + step * 5
        frames += [
            heard(
                PILOT,
                AirTracking(
                    46.20 + step * 1e-4, 13.60, AircraftType.PARAGLIDER, 1800 + step, 36.0, 1.5, 90.0
                ),
                t,
            ),
            heard(
                PILOT_2,
                AirTracking(46.30, 13.70 + step * 1e-4, AircraftType.HANG_GLIDER, 2100, 50.0, -0.5, 180.0),
                t,
            ),
            heard(FAR, AirTracking(40.0, 3.0 + step * 1e-4, AircraftType.GLIDER, 2500, 90.0, 0.0, 0.0), t),
            heard(LANDED, GroundTracking(46.25, 13.65, GroundType.NEED_RIDE), t),
        ]
    frames.append(heard(PILOT, ThermalReport(46.21, 13.61, 5, 1900, 2.5, 18.0, 270.0), T0 + 20))
    frames.append(
        heard(
            STATION,
            Service(
                lat=46.22,
                lon=13.62,
                temperature_c=12.5,
                wind_heading_deg=200.0,
                wind_speed_kmh=18.0,
                wind_gust_kmh=27.0,
                humidity_pct=60.0,
                pressure_hpa=1013.0,
            ),
            T0 + 25,
        )
    )
    return frames


async def feed(store: Store, frames: list[ReceivedFrame]) -> Pipeline:
    pipeline = Pipeline(PipelineSettings(appear_score=1, base_station_interval_s=0))
    for frame in frames:
        await store.apply(pipeline.process(frame, frame.timestamp))
    return pipeline


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        built: Store = MemoryStore()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        built = RedisStore(server.url, namespace=f"rest-{uuid.uuid4().hex}")
    await feed(built, world_frames())
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Any]:
    app: QuartTrio = create_app(store, RestSettings(), clock=lambda: NOW, version="9.9.9")
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def both(client: Any, url: str, message_type: Callable[[], Message]) -> dict[str, Any]:
    """GET ``url`` as JSON and as protobuf; both 200 and the same content. Returns the JSON."""
    as_json = await client.get(url)
    assert as_json.status_code == 200, await as_json.get_data()
    assert as_json.headers["Content-Type"] == "application/json"
    as_protobuf = await client.get(url, headers=PROTOBUF)
    assert as_protobuf.status_code == 200
    assert as_protobuf.headers["Content-Type"] == "application/x-protobuf"
    message = message_type()
    message.ParseFromString(await as_protobuf.get_data())
    body: dict[str, Any] = await as_json.get_json()
    assert to_dict(message) == body
    return body


# --- snapshot ------------------------------------------------------------------------------------


async def test_a_snapshot_holds_everything_in_the_circle_and_the_current_sequence(
    client: Any, store: Store
) -> None:
    body = await both(client, "/api/v1/snapshot?lat=46.2&lon=13.6&radius=50", pb.SnapshotResponse)
    assert sorted(p["addr"] for p in body["pilots"]) == [PILOT, PILOT_2]
    anna = next(p for p in body["pilots"] if p["addr"] == PILOT)
    assert anna["name"] == "Anna" and anna["type"] == "PILOT_TYPE_PARAGLIDER" and anna["altitude"] == 1802
    assert [g["type"] for g in body["ground_objects"]] == ["GROUND_TYPE_NEED_RIDE"]
    assert [t["quality"] for t in body["thermals"]] == [5]
    assert body["thermals"][0]["wind_speed"] == pytest.approx(5.0, abs=0.3)  # 18 km/h as m/s
    assert [s["addr"] for s in body["stations"]] == [STATION]
    assert body["sequence"] == str(await store.current_sequence())


async def test_a_snapshot_can_be_limited_to_some_kinds_and_to_recent_objects(client: Any) -> None:
    body = await both(
        client, "/api/v1/snapshot?lat=46.2&lon=13.6&radius=50&types=ground,thermals", pb.SnapshotResponse
    )
    assert (
        len(body["pilots"]),
        len(body["ground_objects"]),
        len(body["thermals"]),
        len(body["stations"]),
    ) == (0, 1, 1, 0)
    # NOW is T0 + 60: within 38 s only the thermal (T0 + 20) and the station (T0 + 25) were updated
    recent = await both(
        client, "/api/v1/snapshot?lat=46.2&lon=13.6&radius=50&max_age=40", pb.SnapshotResponse
    )
    assert recent["pilots"] == [] and len(recent["thermals"]) == 1 and len(recent["stations"]) == 1


async def test_a_snapshot_with_a_matching_etag_is_not_sent_again(client: Any) -> None:
    url = "/api/v1/snapshot?lat=46.2&lon=13.6&radius=50"
    first = await client.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and await again.get_data() == b""
    assert again.headers["ETag"] == etag
    as_protobuf = await client.get(url, headers={**PROTOBUF, "If-None-Match": etag})
    assert as_protobuf.status_code == 200 and as_protobuf.headers["ETag"] != etag


async def test_a_snapshot_is_gzipped_when_the_client_accepts_it(client: Any) -> None:
    import gzip

    url = "/api/v1/snapshot?lat=46.2&lon=13.6&radius=200"
    plain = await client.get(url)
    zipped = await client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.get_data()) == await plain.get_data()
    assert zipped.headers["ETag"] == plain.headers["ETag"]
    assert "Accept-Encoding" in zipped.headers["Vary"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("lon=13.6&radius=50", "lat"),
        ("lat=46.2&radius=50", "lon"),
        ("lat=46.2&lon=13.6", "radius"),
        ("lat=46.2&lon=13.6&radius=201", "radius"),
        ("lat=46.2&lon=13.6&radius=0.5", "radius"),
        ("lat=91&lon=13.6&radius=50", "lat"),
        ("lat=north&lon=13.6&radius=50", "lat"),
        ("lat=nan&lon=13.6&radius=50", "lat"),
        ("lat=46.2&lon=13.6&radius=50&types=pilots,boats", "types"),
        ("lat=46.2&lon=13.6&radius=50&max_age=0", "max_age"),
        ("lat=46.2&lat=47&lon=13.6&radius=50", "lat"),
    ],
)
async def test_a_bad_snapshot_parameter_is_a_400_naming_it(client: Any, query: str, parameter: str) -> None:
    response = await client.get(f"/api/v1/snapshot?{query}")
    assert response.status_code == 400
    body = await response.get_json()
    assert body["code"] == "invalid_parameter" and body["message"].startswith(f"{parameter}: ")


# --- objects in a box ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message_type", "field", "expected"),
    [
        ("pilots", pb.PilotsResponse, "pilots", [PILOT, PILOT_2]),
        ("ground", pb.GroundObjectsResponse, "ground_objects", [LANDED]),
        ("thermals", pb.ThermalsResponse, "thermals", [PILOT]),
        ("stations", pb.StationsResponse, "stations", [STATION]),
    ],
)
async def test_objects_in_a_box(
    client: Any, path: str, message_type: Callable[[], Message], field: str, expected: list[int]
) -> None:
    body = await both(client, f"/api/v1/{path}?bounds=46,13,47,14", message_type)
    assert sorted(obj["addr"] for obj in body[field]) == expected
    elsewhere = await both(client, f"/api/v1/{path}?bounds=-10,-10,10,10", message_type)
    assert elsewhere == {field: []}


async def test_a_box_across_the_antimeridian_is_allowed(client: Any) -> None:
    assert await both(client, "/api/v1/pilots?bounds=-10,170,10,-170", pb.PilotsResponse) == {"pilots": []}


async def test_thermals_below_the_minimum_quality_are_left_out(client: Any) -> None:
    assert (
        len(
            (await both(client, "/api/v1/thermals?bounds=46,13,47,14&min_quality=5", pb.ThermalsResponse))[
                "thermals"
            ]
        )
        == 1
    )
    assert (await both(client, "/api/v1/thermals?bounds=46,13,47,14&min_quality=6", pb.ThermalsResponse))[
        "thermals"
    ] == []


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("", "bounds: missing"),
        ("bounds=46,13,47", "bounds: "),
        ("bounds=46,13,47,14,15", "bounds: "),
        ("bounds=47,13,46,14", "lies north of"),
        ("bounds=46,13,95,14", "bounds: "),
        ("bounds=46,13,47,190", "bounds: "),
        ("bounds=a,b,c,d", "bounds: "),
    ],
)
async def test_malformed_bounds_are_a_400_naming_bounds(client: Any, query: str, fragment: str) -> None:
    response = await client.get(f"/api/v1/pilots?{query}")
    assert response.status_code == 400
    assert fragment in (await response.get_json())["message"]


async def test_min_quality_out_of_range_is_a_400(client: Any) -> None:
    response = await client.get("/api/v1/thermals?bounds=46,13,47,14&min_quality=8")
    assert response.status_code == 400 and (await response.get_json())["message"].startswith("min_quality: ")


# --- one object: track, weather station ----------------------------------------------------------


@pytest.mark.parametrize("addr", ["110B90", "110b90", str(PILOT)])
async def test_a_track_by_hex_or_decimal_address(client: Any, addr: str) -> None:
    body = await both(client, f"/api/v1/track/{addr}", pb.TrackResponse)
    track = body["track"]
    assert track["addr"] == PILOT
    assert [int(p["timestamp"]) for p in track["points"]] == [int(T0), int(T0 + 5), int(T0 + 10)]
    assert (track["start_time"], track["end_time"]) == (str(int(T0)), str(int(T0 + 10)))


async def test_a_track_covers_the_requested_hours(client: Any, store: Store) -> None:
    app = create_app(store, RestSettings(), clock=lambda: T0 + 3600 + 7)  # an hour after the last point
    async with app.test_app() as test_app:
        late = test_app.test_client()
        one_hour = await both(late, "/api/v1/track/110B90?hours=1", pb.TrackResponse)
        assert [int(p["timestamp"]) for p in one_hour["track"]["points"]] == [int(T0 + 10)]
        assert (
            len((await both(late, "/api/v1/track/110B90?hours=2", pb.TrackResponse))["track"]["points"]) == 3
        )


@pytest.mark.parametrize("query", ["hours=0", "hours=13", "hours=1.5", "hours=x"])
async def test_track_hours_out_of_range_are_a_400(client: Any, query: str) -> None:
    response = await client.get(f"/api/v1/track/110B90?{query}")
    assert response.status_code == 400 and (await response.get_json())["message"].startswith("hours: ")


@pytest.mark.parametrize(
    ("addr", "status"), [("123456", 404), ("99999999", 404), ("12345G", 400), ("-1", 400)]
)
async def test_an_unknown_or_malformed_address_has_no_track(client: Any, addr: str, status: int) -> None:
    response = await client.get(f"/api/v1/track/{addr}")
    assert response.status_code == status
    assert (await response.get_json())["code"] == ("not_found" if status == 404 else "invalid_parameter")


async def test_one_weather_station_by_address(client: Any) -> None:
    body = await both(client, "/api/v1/stations/FB1234", pb.Station)
    assert body["addr"] == STATION and body["temperature"] == pytest.approx(12.5, abs=0.5)
    assert body["wind_gusts"] == pytest.approx(7.5, abs=0.3)  # 27 km/h as m/s
    missing = await client.get("/api/v1/stations/110B90")  # a pilot, not a station
    assert missing.status_code == 404 and (await missing.get_json())["code"] == "not_found"


# --- the network and the server ------------------------------------------------------------------


async def test_base_stations_show_what_each_heard(client: Any) -> None:
    body = await both(client, "/api/v1/basestations", pb.BaseStationsResponse)
    [station] = body["stations"]
    assert station["name"] == "FB0042" and station["addr"] == 0xFB0042
    assert set(station["heard_addrs"]) == {PILOT, PILOT_2, FAR, LANDED, STATION}
    assert station["rssi_avg"] == pytest.approx(-95) and station["snr_avg"] == pytest.approx(6)
    assert station["frames_per_minute"] > 0 and int(station["last_seen"]) >= int(T0)


async def test_info_names_the_server_the_store_and_the_websocket(client: Any, store: Store) -> None:
    response = await client.get("/api/v1/info", headers={"Host": "live.example.org:8080"})
    body = await response.get_json()
    assert body["server_version"] == "9.9.9" and body["store"] == store.name
    assert body["websocket_url"] == "ws://live.example.org:8081/ws/v1/updates"
    assert body["counts"] == {
        "pilots": 3,
        "ground_objects": 1,
        "thermals": 1,
        "stations": 1,
        "base_stations": 1,
    }
    assert body["sequence"] == await store.current_sequence() and body["server_time"] == int(NOW)


class UnreadableObjects(MemoryStore):
    """A memory store whose objects cannot be read one by one: only its counts can answer ``/info``."""

    async def objects(self, *args: Any, **kwargs: Any) -> list[LiveObject]:
        raise AssertionError("/info read every object to count them")


async def test_info_counts_without_reading_the_objects() -> None:
    store = UnreadableObjects()
    await feed(store, world_frames())
    app = create_app(store, RestSettings(), clock=lambda: NOW)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/api/v1/info")
    assert response.status_code == 200
    assert (await response.get_json())["counts"]["pilots"] == 3


async def test_info_gives_the_configured_websocket_url(store: Store) -> None:
    app = create_app(store, RestSettings(websocket_url="wss://live.example.org/ws/v1/updates"))
    async with app.test_app() as test_app:
        body = await (await test_app.test_client().get("/api/v1/info")).get_json()
    assert body["websocket_url"] == "wss://live.example.org/ws/v1/updates"


async def test_an_unknown_path_is_a_json_404(client: Any) -> None:
    for path in ("/api/v1/nothing", "/elsewhere"):
        response = await client.get(path)
        assert response.status_code == 404
        assert (await response.get_json())["code"] == "not_found"
