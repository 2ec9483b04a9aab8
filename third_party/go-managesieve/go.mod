module github.com/migadu/go-managesieve

go 1.25.0
