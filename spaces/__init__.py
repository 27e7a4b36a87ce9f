"""Design-space files shipped with designspace (installed as designspace.spaces)."""
