module github.com/peer-node/peer

go 1.26

require github.com/libp2p/go-libp2p v0.0.0

replace github.com/libp2p/go-libp2p => ./stub/go-libp2p
