"""CAP 1.2 alerts as the hub writes them: valid against the OASIS schema, in the hub's profile, and read back
unchanged. (Hostile documents are in test_codec_cap_hostile.py; random alerts in test_codec_cap_properties.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from plugins.police_link.codec.cap import (
    CAP_NAMESPACE,
    RESOURCE_SHA256,
    CapAlert,
    CapArea,
    CapError,
    CapInfo,
    CapReference,
    cap_listing,
    cap_time,
    decode_alert,
    encode_alert,
    identifier_for,
    parse_cap_time,
)
from tests.plugins.police_link import cap_samples as samples
from tests.plugins.police_link.conftest import assert_valid_cap

NS = {"cap": CAP_NAMESPACE}


def tree(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode("utf-8"))


def texts(xml: str, path: str) -> list[str]:
    return [element.text for element in tree(xml).xpath(path, namespaces=NS)]


def encoded_and_checked(alert: CapAlert) -> str:
    """Encode, validate against the XSD, and read back equal: what every message in these tests goes through."""
    xml = encode_alert(alert)
    assert_valid_cap(xml)
    assert decode_alert(xml) == alert
    return xml


# --- messages of the profile ---------------------------------------------------------------------------------


def test_an_alert_about_an_incident_is_valid_cap_naming_sender_force_and_incident(cap_schema):
    """A new incident goes as msgType Alert, scope Private, addressed to the force, naming the hub's incident."""
    xml = encoded_and_checked(samples.alert())
    assert cap_schema.validate(tree(xml).getroottree())
    assert xml.startswith("<?xml version='1.0' encoding='UTF-8'?>")
    assert texts(xml, "/cap:alert/cap:identifier") == [f"{samples.SENDER}/{samples.INCIDENT}/1"]
    assert texts(xml, "/cap:alert/cap:sender") == [samples.SENDER]
    assert texts(xml, "/cap:alert/cap:sent") == ["2026-11-22T10:15:30-00:00"]
    assert texts(xml, "/cap:alert/cap:msgType") == ["Alert"]
    assert texts(xml, "/cap:alert/cap:scope") == ["Private"]
    assert texts(xml, "/cap:alert/cap:addresses") == ['"Derbyshire Constabulary"']
    assert texts(xml, "/cap:alert/cap:incidents") == [samples.INCIDENT]
    assert texts(xml, "//cap:info/cap:language") == ["en-GB"]
    assert texts(xml, "//cap:info/cap:category") == ["Security"]


def test_an_update_references_every_earlier_message_of_the_chain():
    """references lists sender,identifier,sent of each earlier message, separated by spaces."""
    first = samples.alert()
    second = samples.update_of(first, sent=first.sent + timedelta(minutes=1))
    third = samples.update_of(second)
    xml = encoded_and_checked(third)
    assert texts(xml, "/cap:alert/cap:msgType") == ["Update"]
    assert texts(xml, "/cap:alert/cap:references") == [
        (f"{samples.SENDER},{samples.SENDER}/{samples.INCIDENT}/1,2026-11-22T10:15:30-00:00 "
         f"{samples.SENDER},{samples.SENDER}/{samples.INCIDENT}/2,2026-11-22T10:16:30-00:00")
    ]
    assert decode_alert(xml).references == (samples.reference_to(first), samples.reference_to(second))


def test_a_cancel_needs_no_info_and_carries_its_note():
    cancel = samples.cancel_of(samples.alert())
    xml = encoded_and_checked(cancel)
    assert texts(xml, "/cap:alert/cap:msgType") == ["Cancel"]
    assert texts(xml, "/cap:alert/cap:note") == ["Withdrawn by the operator: a false alarm"]
    assert tree(xml).xpath("//cap:info", namespaces=NS) == []


def test_an_area_is_written_as_circle_polygon_and_uprn_geocode():
    """A circle is "lat,lon radius_km"; a polygon closed space-separated lat,lon pairs; a UPRN a geocode."""
    square = ((53.2350, -1.4270), (53.2350, -1.4260), (53.2360, -1.4260), (53.2360, -1.4270), (53.2350, -1.4270))
    area = samples.high_street(polygon=square, circle=(53.2355, -1.4266, 0.00005))
    xml = encoded_and_checked(samples.alert(info=(samples.fight_info(areas=(area,)),)))
    assert texts(xml, "//cap:area/cap:areaDesc") == ["High Street by the Market Hall, Chesterfield"]
    assert texts(xml, "//cap:area/cap:circle") == ["53.2355,-1.4266 0.00005"]  # plain decimals, never 5e-05
    assert texts(xml, "//cap:area/cap:polygon") == [
        "53.235,-1.427 53.235,-1.426 53.236,-1.426 53.236,-1.427 53.235,-1.427"]
    assert texts(xml, "//cap:area/cap:geocode/cap:valueName") == ["UPRN"]
    assert texts(xml, "//cap:area/cap:geocode/cap:value") == ["74012345"]


def test_an_area_may_be_a_description_and_geocode_alone():
    area = CapArea("Queen's Park pavilion", geocodes=(("UPRN", "100030012345"), ("postcode", "S40 2LD")))
    xml = encoded_and_checked(samples.alert(info=(samples.fight_info(areas=(area,)),)))
    assert tree(xml).xpath("//cap:circle | //cap:polygon", namespaces=NS) == []


def test_a_resource_carries_sha1_as_cap_digest_and_sha256_as_a_parameter():
    """CAP's own digest is SHA-1; the SHA-256 goes in a resource_sha256 parameter naming the resource."""
    xml = encoded_and_checked(samples.alert())
    assert texts(xml, "//cap:resource/cap:resourceDesc") == ["Still from camera TC-04 at 10:14:58"]
    assert texts(xml, "//cap:resource/cap:mimeType") == ["image/jpeg"]
    assert texts(xml, "//cap:resource/cap:size") == ["183224"]
    assert texts(xml, "//cap:resource/cap:uri") == [samples.STILL_URI]
    assert texts(xml, "//cap:resource/cap:digest") == [samples.STILL_SHA1]
    # The info's own parameters come first, then one resource_sha256 per hashed resource.
    assert texts(xml, "//cap:parameter/cap:valueName") == ["incident_severity", "camera", RESOURCE_SHA256]
    assert texts(xml, "//cap:parameter/cap:value")[-1] == f"{samples.STILL_URI} {samples.STILL_SHA256}"
    decoded = decode_alert(xml)
    assert decoded.info[0].resources[0].sha256 == samples.STILL_SHA256
    assert decoded.info[0].parameters == (("incident_severity", "high"), ("camera", "TC-04"))


def test_a_resource_without_uri_is_named_by_its_description_in_the_sha256_parameter():
    """Stills go by hash alone when the force cannot fetch them; each SHA-256 still finds its resource."""
    first = samples.still(uri=None, description="Still 1 of 2, camera TC-04", sha1=None)
    second = samples.still(uri=None, description="Still 2 of 2, camera TC-04", sha256="0" * 64, size=None)
    unhashed = samples.still(uri=None, description="Clip request form", mime_type="application/pdf", sha256=None)
    info = samples.fight_info(resources=(first, second, unhashed), parameters=())
    xml = encoded_and_checked(samples.alert(info=(info,)))
    assert texts(xml, "//cap:parameter/cap:value") == [
        f"Still 1 of 2, camera TC-04 {samples.STILL_SHA256}", f"Still 2 of 2, camera TC-04 {'0' * 64}"]
    assert [resource.sha256 for resource in decode_alert(xml).info[0].resources] == [
        samples.STILL_SHA256, "0" * 64, None]


def test_several_info_blocks_keep_their_order_and_languages():
    """One info per language (English and Welsh here), in the order given."""
    welsh = samples.fight_info(language="cy", event="Ymladd ar y gweill", headline="Ymladd y tu allan i'r Neuadd Farchnad")
    plain = CapInfo(event="Crowd gathering", urgency="Expected", severity="Moderate", certainty="Likely",
                    category=("Security", "Safety"))
    xml = encoded_and_checked(samples.alert(info=(samples.fight_info(), welsh, plain)))
    assert texts(xml, "//cap:info/cap:language") == ["en-GB", "cy", "en-GB"]
    assert texts(xml, "//cap:info[3]/cap:category") == ["Security", "Safety"]


def test_every_optional_element_of_the_profile_is_written_in_the_schemas_order(cap_schema):
    """The fullest message the profile can make is valid: every optional element in its place."""
    full = samples.alert(
        status="Exercise",
        code=("cctv-hub.police-link.v1", "exercise 7"),
        note="Exercise Hawk: not a real incident",
        incidents=(samples.INCIDENT, "Exercise Hawk"),
        references=(CapReference("other@example.org", "x-1", samples.SENT - timedelta(hours=1)),),
        info=(samples.fight_info(web="https://cctv-hub.chesterfield.gov.uk/incidents/01JDX"),),
    )
    xml = encoded_and_checked(full)
    assert cap_schema.validate(tree(xml).getroottree())
    names = [etree.QName(element).localname for element in tree(xml)]
    assert names == ["identifier", "sender", "sent", "status", "msgType", "source", "scope", "addresses", "code",
                     "code", "note", "references", "incidents", "info"]
    assert texts(xml, "/cap:alert/cap:incidents") == [f'{samples.INCIDENT} "Exercise Hawk"']


def test_text_with_xml_characters_and_unicode_is_escaped_and_read_back():
    """<, &, quotes, ]]>, tabs, CR LF, Welsh, emoji: all written as XML text and read back exactly."""
    text = 'Man said "<stop> & go" ]]> \'now\'\tthen\r\nleft; Llŷn 🚓\u2028end'
    info = samples.fight_info(headline=text, description=text, parameters=(("said", text),))
    xml = encoded_and_checked(samples.alert(info=(info,), note=text, source=text))
    assert "&lt;stop&gt; &amp; go" in xml
    assert decode_alert(xml).info[0].description == text


def test_an_empty_optional_text_is_left_out():
    info = samples.fight_info(headline="", web="", contact="")
    built = samples.alert(info=(info,), note="", source="")
    assert (built.note, built.source, info.headline, info.web, info.contact) == (None, None, None, None, None)
    xml = encoded_and_checked(built)
    assert tree(xml).xpath("//cap:note | //cap:source | //cap:headline | //cap:web | //cap:contact",
                           namespaces=NS) == []


def test_public_scope_may_go_without_addresses():
    encoded_and_checked(samples.alert(scope="Public", addresses=None))


def test_hashes_are_kept_in_lower_case():
    resource = samples.still(sha1=samples.STILL_SHA1.upper(), sha256=samples.STILL_SHA256.upper())
    assert (resource.sha1, resource.sha256) == (samples.STILL_SHA1, samples.STILL_SHA256)


def test_lists_are_accepted_for_tuple_fields():
    area = CapArea("x", circle=[1, 2, 3], polygon=[[0, 0], [0, 1], [1, 1], [0, 0]], geocodes=[["UPRN", "1"]])
    assert area.circle == (1, 2, 3) and area.polygon[1] == (0, 1) and area.geocodes == (("UPRN", "1"),)
    built = samples.alert(incidents=[samples.INCIDENT], info=[samples.fight_info(category=["Fire"], areas=[area])])
    assert built.incidents == (samples.INCIDENT,) and built.info[0].category == ("Fire",)
    encoded_and_checked(built)


def test_sent_is_kept_to_the_second():
    """CAP times have no fraction, so a message built with one equals the message read back."""
    built = samples.alert(sent=samples.SENT.replace(microsecond=999_999))
    assert built.sent == samples.SENT
    encoded_and_checked(built)


# --- what is refused when built ------------------------------------------------------------------------------

INVALID_ALERTS = {
    "identifier with a space": ({"identifier": "incident 1"}, "identifier must not contain whitespace"),
    "identifier with a comma": ({"identifier": "a,b"}, "identifier must not contain"),
    "identifier with <": ({"identifier": "a<b"}, "identifier must not contain"),
    "identifier with &": ({"identifier": "a&b"}, "identifier must not contain"),
    "identifier with a tab": ({"identifier": "a\tb"}, "identifier must not contain"),
    "empty identifier": ({"identifier": ""}, "identifier must not be empty"),
    "sender with a space": ({"sender": "cctv room"}, "sender must not contain"),
    "naive sent": ({"sent": datetime(2026, 11, 22, 10, 15)}, "sent must carry a timezone"),
    "sent not a datetime": ({"sent": "2026-11-22T10:15:30-00:00"}, "sent must be a datetime"),
    "unknown status": ({"status": "Real"}, "status must be one of Actual"),
    "unknown msgType": ({"msg_type": "Withdraw"}, "msg_type must be one of"),
    "Restricted scope": ({"scope": "Restricted"}, "Restricted needs a <restriction>"),
    "Private without addresses": ({"addresses": None}, "addresses are required when scope is Private"),
    "Private with blank addresses": ({"addresses": "  "}, "addresses are required when scope is Private"),
    "unbalanced quote in addresses": ({"addresses": '"Derbyshire'}, "unclosed double quote"),
    "Update without references": ({"msg_type": "Update"}, "references are required for a Update"),
    "Cancel without references": ({"msg_type": "Cancel"}, "references are required for a Cancel"),
    "incident with a quote": ({"incidents": ('say "hi"',)}, "incident must not contain"),
    "blank incident": ({"incidents": (" ",)}, "incident must not be empty"),
    "blank code": ({"code": ("",)}, "code must not be empty"),
    "note with a NUL": ({"note": "a\x00b"}, "note holds U\\+0000 at 1, which XML 1.0 cannot carry"),
    "note with an escape": ({"note": "\x1b[31m"}, "U\\+001B"),
    "note with U+FFFE": ({"note": "\ufffe"}, "U\\+FFFE"),
    "info not a CapInfo": ({"info": ({"event": "x"},)}, "info must be a sequence of CapInfo"),
    "reference not a CapReference": ({"msg_type": "Update", "references": ("a,b,c",)}, "references must be a sequence"),
}


@pytest.mark.parametrize("changes, reason", INVALID_ALERTS.values(), ids=INVALID_ALERTS.keys())
def test_an_alert_outside_cap_or_the_profile_is_refused_with_its_reason(changes, reason):
    with pytest.raises(CapError, match=reason):
        samples.alert(**changes)


INVALID_INFOS = {
    "empty event": ({"event": " "}, "info event must not be empty"),
    "unknown urgency": ({"urgency": "Now"}, "info urgency must be one of"),
    "unknown severity": ({"severity": "High"}, "info severity must be one of"),
    "unknown certainty": ({"certainty": "Sure"}, "info certainty must be one of"),
    "no category": ({"category": ()}, "at least one category"),
    "unknown category": ({"category": ("Crime",)}, "info category must be one of"),
    "bad language": ({"language": "English (UK)"}, "language tag"),
    "relative web": ({"web": "/incidents/1"}, "info web must be an absolute URI"),
    "web with a space": ({"web": "https://x.example/a b"}, "absolute URI"),
    "web with a bad escape": ({"web": "https://x.example/%zz"}, "absolute URI"),
    "reserved parameter": ({"parameters": ((RESOURCE_SHA256, "x " + "0" * 64),)}, "is reserved"),
    "parameter without a name": ({"parameters": (("", "x"),)}, "parameter 1 name must not be empty"),
    "parameter not a pair": ({"parameters": (("a", "b", "c"),)}, "must be a \\(name, value\\) pair"),
    "headline with a control": ({"headline": "a\x07"}, "info headline holds U\\+0007"),
    "hashed resources sharing a uri": (
        {"resources": (samples.still(), samples.still(description="Same uri, other still"))}, "could not be told apart"),
    "resources not CapResource": ({"resources": ("still.jpg",)}, "must be a sequence of CapResource"),
}


@pytest.mark.parametrize("changes, reason", INVALID_INFOS.values(), ids=INVALID_INFOS.keys())
def test_an_info_outside_cap_or_the_profile_is_refused_with_its_reason(changes, reason):
    with pytest.raises(CapError, match=reason):
        samples.fight_info(**changes)


INVALID_RESOURCES = {
    "empty description": ({"description": ""}, "resource description must not be empty"),
    "no MIME type": ({"mime_type": "jpeg"}, "must be a MIME type"),
    "negative size": ({"size": -1}, "whole number of bytes"),
    "size as text": ({"size": "12"}, "whole number of bytes"),
    "size as bool": ({"size": True}, "whole number of bytes"),
    "relative uri": ({"uri": "evidence/1.jpg"}, "resource uri must be an absolute URI"),
    "non-ASCII uri": ({"uri": "https://hub.example/é"}, "absolute URI"),
    "short SHA-1": ({"sha1": "abc"}, "40 hex digits"),
    "SHA-256 where SHA-1 goes": ({"sha1": samples.STILL_SHA256}, "40 hex digits"),
    "SHA-256 not hex": ({"sha256": "g" * 64}, "64 hex digits"),
}


@pytest.mark.parametrize("changes, reason", INVALID_RESOURCES.values(), ids=INVALID_RESOURCES.keys())
def test_a_resource_outside_cap_is_refused_with_its_reason(changes, reason):
    with pytest.raises(CapError, match=reason):
        samples.still(**changes)


INVALID_AREAS = {
    "empty description": ({"description": ""}, "area description must not be empty"),
    "latitude beyond the pole": ({"circle": (91, 0, 1)}, "latitude must be from -90 to 90"),
    "longitude beyond 180": ({"circle": (0, 181, 1)}, "longitude must be from -180 to 180"),
    "negative radius": ({"circle": (0, 0, -1)}, "radius_km must be from 0"),
    "NaN radius": ({"circle": (0, 0, float("nan"))}, "finite number"),
    "circle of two numbers": ({"circle": (0, 0)}, "must be \\(latitude, longitude, radius_km\\)"),
    "polygon of three points": ({"polygon": ((0, 0), (0, 1), (0, 0))}, "at least 4 points"),
    "open polygon": ({"polygon": ((0, 0), (0, 1), (1, 1), (1, 0))}, "must be closed"),
    "polygon point off the globe": ({"polygon": ((0, 0), (0, 1), (100, 1), (0, 0))}, "point 3 latitude"),
    "UPRN with letters": ({"geocodes": (("UPRN", "A123"),)}, "UPRN must be 1 to 12 digits"),
    "UPRN too long": ({"geocodes": (("UPRN", "1234567890123"),)}, "UPRN must be 1 to 12 digits"),
    "geocode with an empty value": ({"geocodes": (("postcode", ""),)}, "geocode 1 value must not be empty"),
}


@pytest.mark.parametrize("changes, reason", INVALID_AREAS.values(), ids=INVALID_AREAS.keys())
def test_an_area_outside_cap_is_refused_with_its_reason(changes, reason):
    with pytest.raises(CapError, match=reason):
        samples.high_street(**changes)


def test_a_reference_is_checked_like_an_identifier():
    with pytest.raises(CapError, match="reference identifier must not contain"):
        CapReference(samples.SENDER, "a b", samples.SENT)
    with pytest.raises(CapError, match="reference sent must carry a timezone"):
        CapReference(samples.SENDER, "a", datetime(2026, 1, 1))


def test_encode_needs_a_cap_alert():
    with pytest.raises(CapError, match="needs a CapAlert"):
        encode_alert({"identifier": "x"})  # type: ignore[arg-type]


# --- times ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment, written",
    [
        (datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC), "2026-11-22T10:15:30-00:00"),
        (datetime(2026, 11, 22, 10, 15, 30, tzinfo=ZoneInfo("Europe/London")), "2026-11-22T10:15:30-00:00"),
        (datetime(2026, 7, 22, 10, 15, 30, tzinfo=ZoneInfo("Europe/London")), "2026-07-22T10:15:30+01:00"),
        (datetime(2026, 1, 5, 8, 0, 0, tzinfo=ZoneInfo("America/New_York")), "2026-01-05T08:00:00-05:00"),
        (datetime(2026, 1, 5, 8, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))), "2026-01-05T08:00:00+05:30"),
        (datetime(2026, 1, 5, 8, 0, 0, tzinfo=timezone(timedelta(hours=-9, minutes=-30))), "2026-01-05T08:00:00-09:30"),
        (datetime(2026, 1, 5, 8, 0, 0, 999_999, tzinfo=UTC), "2026-01-05T08:00:00-00:00"),
        (datetime(999, 1, 5, 8, 0, 0, tzinfo=UTC), "0999-01-05T08:00:00-00:00"),
    ],
    ids=["utc", "london-winter", "london-summer", "new-york", "india", "marquesas", "fraction", "year-999"],
)
def test_cap_time_keeps_the_offset_writes_utc_as_minus_zero_and_drops_fractions(moment, written):
    """CAP 1.2: never "Z", UTC as -00:00; the schema's pattern allows no fraction."""
    assert cap_time(moment) == written
    assert parse_cap_time(written) == moment.replace(microsecond=0)


def test_an_offset_the_schema_cannot_hold_is_written_as_utc():
    """Offsets with seconds (old local mean times) and beyond 14 hours become the same instant in UTC."""
    odd = datetime(2026, 1, 5, 8, 0, 0, tzinfo=timezone(timedelta(minutes=-1, seconds=-15)))
    assert cap_time(odd) == "2026-01-05T08:01:15-00:00"
    far = datetime(2026, 1, 5, 8, 0, 0, tzinfo=timezone(timedelta(hours=15)))
    assert cap_time(far) == "2026-01-04T17:00:00-00:00"
    encoded_and_checked(samples.alert(sent=odd))


def test_cap_time_refuses_a_moment_without_a_timezone():
    with pytest.raises(CapError, match="must carry a timezone"):
        cap_time(datetime(2026, 1, 5, 8, 0, 0))


@pytest.mark.parametrize(
    "text",
    ["2026-11-22T10:15:30Z", "2026-11-22T10:15:30.5-00:00", "2026-11-22T10:15:30", "2026-11-22 10:15:30+01:00",
     "2026-13-22T10:15:30+01:00", "2026-11-22T10:15:30+15:00", "2026-11-22T10:15:30,01:00", "", " 2026-11-22T10:15:30+01:00"],
)
def test_parse_cap_time_accepts_only_the_schemas_form(text):
    with pytest.raises(CapError, match="time"):
        parse_cap_time(text)


# --- identifiers and listings ----------------------------------------------------------------------------------


def test_identifier_for_joins_sender_incident_and_number():
    identifier = identifier_for(samples.SENDER, samples.INCIDENT, 3)
    assert identifier == f"cctv@chesterfield.gov.uk/{samples.INCIDENT}/3"
    encoded_and_checked(samples.alert(identifier=identifier))


def test_identifier_for_percent_encodes_what_cap_forbids_and_stays_unique():
    """Whitespace, commas, < and &, controls, / and % in an incident id are percent-encoded (UTF-8)."""
    identifier = identifier_for("room", "a b,c<d&e/f%g\th\x01é", 0)
    assert identifier == "room/a%20b%2Cc%3Cd%26e%2Ff%25g%09h%01é/0"
    encoded_and_checked(samples.alert(identifier=identifier))
    # Inputs that would collide if "/" or "%" were kept as they are give different identifiers.
    assert identifier_for("a/b", "c", 1) != identifier_for("a", "b/c", 1)
    assert identifier_for("a", "%2F", 1) != identifier_for("a", "/", 1)
    assert identifier_for("a", "x", 1) != identifier_for("a", "x", 10)


@pytest.mark.parametrize(
    "sender, incident, number, reason",
    [("cctv room", "i", 1, "sender must not contain"), ("", "i", 1, "sender must not be empty"),
     ("room", "", 1, "incident_id must be non-empty"), ("room", "i", -1, "number must be a whole number"),
     ("room", "i", True, "number must be a whole number"), ("room", "i", 1.0, "number must be a whole number")],
)
def test_identifier_for_refuses_what_cannot_make_an_identifier(sender, incident, number, reason):
    with pytest.raises(CapError, match=reason):
        identifier_for(sender, incident, number)


def test_cap_listing_quotes_names_holding_whitespace():
    assert cap_listing(["Derbyshire Constabulary", "DC-control", "a\tb"]) == '"Derbyshire Constabulary" DC-control "a\tb"'
    assert cap_listing([]) == ""
    with pytest.raises(CapError, match="must not contain '\"'"):
        cap_listing(['say "hi"'])
    with pytest.raises(CapError, match="must not be empty"):
        cap_listing([""])


# --- reading what others wrote ----------------------------------------------------------------------------------


OTHER_WRITER = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- written by hand, with a prefix and its own layout -->
<cap:alert xmlns:cap="{CAP_NAMESPACE}">
  <cap:identifier>KSTO1055887203</cap:identifier>
  <cap:sender>KSTO@NWS.NOAA.GOV</cap:sender>
  <cap:sent>2003-06-17T14:57:00-07:00</cap:sent>
  <cap:status>Actual</cap:status>
  <cap:msgType>Alert</cap:msgType>
  <cap:scope>Public</cap:scope>
  <cap:info>
    <cap:category>Met</cap:category>
    <cap:event>SEVERE THUNDERSTORM</cap:event>
    <cap:urgency>Immediate</cap:urgency>
    <cap:severity>Severe</cap:severity>
    <cap:certainty>Observed</cap:certainty>
    <cap:area>
      <cap:areaDesc>EXTREME NORTH CENTRAL TUOLUMNE COUNTY</cap:areaDesc>
      <cap:polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14</cap:polygon>
    </cap:area>
  </cap:info>
</cap:alert>
"""


def test_a_valid_cap_alert_written_elsewhere_is_read_whatever_its_prefix():
    """The namespace matters, not the prefix; an info without language has the schema's default en-US."""
    assert_valid_cap(OTHER_WRITER)
    read = decode_alert(OTHER_WRITER)
    assert read.identifier == "KSTO1055887203"
    assert read.sent == datetime(2003, 6, 17, 21, 57, tzinfo=UTC)
    assert read.scope == "Public" and read.addresses is None
    assert read.info[0].language == "en-US"
    assert read.info[0].areas[0].polygon[0] == (38.47, -120.14)
    encoded_and_checked(read)


def alert_xml(**replacements: str) -> str:
    xml = encode_alert(samples.alert())
    for old, new in replacements.items():
        assert old in xml
        xml = xml.replace(old, new)
    return xml


DECODE_REFUSALS = {
    "missing identifier": (
        "<identifier>cctv@chesterfield.gov.uk/01JDXQ4T8M3K6C2V9B7N5R1A0F/1</identifier>", "",
        "alert: <identifier> is missing"),
    "scope twice": ("<scope>Private</scope>", "<scope>Private</scope><scope>Public</scope>",
                    "alert: <scope> appears more than once"),
    "out of order": ("<source>cctv-hub</source>", "", "alert: <source> is out of the schema's order", "</addresses>",
                     "</addresses><source>cctv-hub</source>"),
    "sent in Z": ("<sent>2026-11-22T10:15:30-00:00</sent>", "<sent>2026-11-22T10:15:30Z</sent>",
                  "alert: sent must be a CAP time"),
    "status padded": ("<status>Actual</status>", "<status> Actual</status>", "alert: status must be one of"),
    "element outside the profile": (
        "<certainty>Observed</certainty>", "<certainty>Observed</certainty><expires>2026-11-22T11:00:00-00:00</expires>",
        "info 1: <expires> is valid CAP but outside the hub's profile"),
    "size not a number": ("<size>183224</size>", "<size>big</size>", "info 1 resource 1: <size> must be a whole number"),
    "circle without radius": ("<circle>53.2355,-1.4266 0.1</circle>", "<circle>53.2355,-1.4266</circle>",
                              "info 1 area 1: circle must be"),
    "two circles": ("<circle>53.2355,-1.4266 0.1</circle>",
                    "<circle>53.2355,-1.4266 0.1</circle><circle>53,-1 1</circle>", "one polygon and one circle"),
    "unknown element": ("<valueName>UPRN</valueName>", "<valueName>UPRN</valueName><extra/>",
                        "<extra> is not a CAP 1.2 element here"),
    "element in another namespace": ("<valueName>UPRN</valueName>",
                                     '<valueName>UPRN</valueName><x:value xmlns:x="urn:other">1</x:value>',
                                     "element {urn:other}value is not in the CAP 1.2 namespace"),
    "element inside text": ("<headline>", "<headline><b>bold</b>", "info 1: <headline> must hold text, not elements"),
    "stray text": ("<urgency>Immediate</urgency>", "<urgency>Immediate</urgency>stray", "holds text outside its elements"),
}


@pytest.mark.parametrize("edits", DECODE_REFUSALS.values(), ids=DECODE_REFUSALS.keys())
def test_decode_refuses_what_the_schema_or_the_profile_does_not_allow_saying_where_and_why(edits):
    old, new, reason, *more = edits
    replacements = {old: new}
    if more:
        replacements[more[0]] = more[1]
    with pytest.raises(CapError, match=reason):
        decode_alert(alert_xml(**replacements))


def test_decode_refuses_malformed_references_and_sha256_parameters():
    update = encode_alert(samples.update_of(samples.alert()))
    reference = f"{samples.SENDER},{samples.SENDER}/{samples.INCIDENT}/1,2026-11-22T10:15:30-00:00"
    assert reference in update
    with pytest.raises(CapError, match="references must be 'sender,identifier,sent' triples"):
        decode_alert(update.replace(reference, f"{samples.SENDER},{samples.SENDER}/{samples.INCIDENT}/1"))
    with pytest.raises(CapError, match="reference sent must be a CAP time"):
        decode_alert(update.replace(reference, reference.replace("-00:00", "Z")))
    with pytest.raises(CapError, match="resource_sha256 parameter names no resource"):
        decode_alert(alert_xml(**{f"{samples.STILL_URI} {samples.STILL_SHA256}": f"elsewhere {samples.STILL_SHA256}"}))
    with pytest.raises(CapError, match="must end with 64 hex digits"):
        decode_alert(alert_xml(**{f"{samples.STILL_URI} {samples.STILL_SHA256}": f"{samples.STILL_URI} abc"}))


def test_decoded_values_are_checked_as_when_built():
    with pytest.raises(CapError, match="alert: identifier must not contain"):
        decode_alert(alert_xml(**{f"<identifier>{samples.SENDER}/": "<identifier>two words/"}))
    with pytest.raises(CapError, match="info 1 area 1: .*UPRN must be 1 to 12 digits"):
        decode_alert(alert_xml(**{"<value>74012345</value>": "<value>S40 2LD</value>"}))
    with pytest.raises(CapError, match="polygon point latitude must be a decimal"):
        decode_alert(alert_xml(**{"<circle>53.2355,-1.4266 0.1</circle>": "<polygon>a,b c,d</polygon>"}))
    with pytest.raises(CapError, match="circle centre latitude must be a decimal"):
        decode_alert(alert_xml(**{"<circle>53.2355,-1.4266 0.1</circle>": "<circle>nan,1 1</circle>"}))
