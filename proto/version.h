/*  version.h — lilac's version, which every program prints for --version.

    One number for the whole tree, the same as debian/changelog's (the
    install test checks that the packaged programs say what the package
    says).
*/
#ifndef LILAC_VERSION_H
#define LILAC_VERSION_H

#define LILAC_VERSION "0.2.0"

#endif
