/// The release this source tree is: what `flagstaff --version` prints, and the version
/// `scripts/package-deb.sh` gives the Debian package (it asks the binary), so the two cannot
/// disagree. Raise it when cutting a release.
let flagstaffVersion = "0.1.0"
