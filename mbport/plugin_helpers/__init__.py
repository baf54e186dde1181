"""Code several plugins share (permission graphs, notification channels, table-scoped kinds, folders); plugins
reach it through `mbport.api`, never by importing each other."""
