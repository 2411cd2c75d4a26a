"""The police link's wire formats, pure (no reactor, no clock): CAP 1.2 XML, the link's JSON frames, and the
versioned JSON messages (requests and answers) they carry."""
