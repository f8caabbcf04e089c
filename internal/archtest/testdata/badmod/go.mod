module github.com/peer-node/peer

go 1.26
