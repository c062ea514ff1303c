// Package images checks that the ovnet image built without a container
// engine (hack/build-image.sh, `make image`) holds what the Dockerfile beside
// it says: its packages, files, directories and labels. It reads the
// Dockerfile (dockerfile.go) and an OCI image archive (oci.go); the test
// builds the image and compares the two.
package images
