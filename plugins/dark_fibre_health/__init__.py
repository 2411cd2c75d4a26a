"""The dark-fibre health adapter: probes the street-cabinet nodes of the council's fibre network, reads
their optics by SNMP, judges each node's state, and turns an outage into one root-cause incident naming the
node, the span and every camera behind it. See README.md in this folder."""
