//! Sans-IO wire inspection: TLS, HTTP/1, SOCKS, DNS and QUIC parsers and the
//! flow inspector that is fed the bytes of a flow and learns its real destination.
