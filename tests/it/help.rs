//! `calsync --help` as the contract operators read: every subcommand, flag and value says what
//! it does, and the lists written in help texts are complete.

use calsync::cli::Cli;
use clap::CommandFactory;

/// Every argument, subcommand and possible value in clap's tree, with its path, that has no help.
fn without_help(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for arg in command.get_arguments() {
        let name = format!(
            "{path} --{}",
            arg.get_long().unwrap_or(arg.get_id().as_str())
        );
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            missing.push(name.clone());
        }
        for value in arg.get_possible_values() {
            if value.get_help().is_none() {
                missing.push(format!("{name} {}", value.get_name()));
            }
        }
    }
    for sub in command.get_subcommands() {
        let sub_path = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() && sub.get_long_about().is_none() {
            missing.push(sub_path.clone());
        }
        without_help(sub, &sub_path, &mut *missing);
    }
}

#[test]
fn every_subcommand_flag_and_value_has_help() {
    let mut command = Cli::command();
    // Builds the generated arguments (--help, --version) and propagates the global flags.
    command.build();
    let mut missing = Vec::new();
    without_help(&command, "calsync", &mut missing);
    assert!(missing.is_empty(), "without help: {missing:#?}");
}

#[test]
fn audit_action_help_names_every_action_the_readme_lists() {
    let command = Cli::command();
    let audit = command.find_subcommand("audit").expect("audit subcommand");
    let action = audit
        .get_arguments()
        .find(|a| a.get_id() == "action")
        .expect("--action");
    let help = action.get_help().expect("help").to_string();
    let readme = include_str!("../../README.md");
    let listed = readme
        .split_once("Actions: ")
        .and_then(|(_, rest)| rest.split_once(".\n"))
        .map(|(list, _)| list)
        .expect("README's audit section lists the actions");
    let actions: Vec<String> = listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert_eq!(actions.len(), 8, "{actions:?}");
    let named: Vec<&str> = help
        .split(':')
        .nth(1)
        .expect("a list after the colon")
        .split(',')
        .map(str::trim)
        .collect();
    for action in &actions {
        assert!(
            named.contains(&action.as_str()),
            "{action:?} missing from {help:?}"
        );
    }
}

#[test]
fn the_readme_lists_every_action_a_keymap_key_can_be_bound_to() {
    let readme = include_str!("../../README.md");
    let listed = readme
        .split_once("The actions a key can be bound to")
        .and_then(|(_, rest)| rest.split_once("): "))
        .and_then(|(_, rest)| rest.split_once(".\n"))
        .map(|(list, _)| list)
        .expect("README's config section lists the [keymap] actions");
    let names: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
    let table: Vec<&str> = calsync::tui::keymap::action_names().collect();
    assert_eq!(
        names, table,
        "README's [keymap] actions, in the table's order"
    );
}
