module github.com/libp2p/go-libp2p

go 1.26
