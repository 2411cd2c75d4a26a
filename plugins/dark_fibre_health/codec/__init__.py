"""The fibre adapter's wire formats, pure: bytes in, frozen values out, and back. No sockets, no clocks.

Modules: ``ber`` (the BER subset SNMP uses), ``snmp`` (SNMP v1/v2c/v3 messages and PDUs, manager and agent
side), ``usm`` (SNMPv3 keys, authentication, privacy, and USM processing of whole messages).
"""
