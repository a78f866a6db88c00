"""The examples library: templates the Architect's ``template`` coder applies (:mod:`.catalog`)."""
