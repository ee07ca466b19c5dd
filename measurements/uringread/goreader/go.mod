module github.com/pkarena/pkarena/measurements/uringread/goreader

go 1.26.0
