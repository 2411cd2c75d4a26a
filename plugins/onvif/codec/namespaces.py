"""The XML namespaces ONVIF replies and requests use, under the prefixes the specifications use."""

from __future__ import annotations

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
#: SOAP 1.1: never sent by the hub, but a few old cameras answer in it, faults included.
SOAP_ENV_11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSRF_BF = "http://docs.oasis-open.org/wsrf/bf-2"
TT = "http://www.onvif.org/ver10/schema"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TR2 = "http://www.onvif.org/ver20/media/wsdl"
TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TEV = "http://www.onvif.org/ver10/events/wsdl"
TNS1 = "http://www.onvif.org/ver10/topics"
TER = "http://www.onvif.org/ver10/error"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
DN = "http://www.onvif.org/ver10/network/wsdl"

#: Prefix -> namespace, for building requests and for XPath.
NS = {
    "s": SOAP_ENV,
    "wsa": WSA,
    "wsse": WSSE,
    "wsu": WSU,
    "wsnt": WSNT,
    "wsrf-bf": WSRF_BF,
    "tt": TT,
    "tds": TDS,
    "trt": TRT,
    "tr2": TR2,
    "tptz": TPTZ,
    "tev": TEV,
    "tns1": TNS1,
    "ter": TER,
    "d": WSD,
    "wsa2004": WSA_2004,
    "dn": DN,
}

#: The services the hub uses, by the namespace GetServices names them with.
SERVICE_DEVICE = TDS
SERVICE_MEDIA = TRT
SERVICE_MEDIA2 = TR2
SERVICE_PTZ = TPTZ
SERVICE_EVENTS = TEV
