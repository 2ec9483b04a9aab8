module github.com/emersion/go-msgauth

go 1.18

require golang.org/x/crypto v0.31.0
