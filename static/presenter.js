/* Placeholder: the front-end of cyoa is written separately. */
