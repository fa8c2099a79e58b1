//! Packet captures: pcap/pcapng reading, link layers, IP defragmentation and
//! TCP reassembly. Feeds the flow inspector offline.
