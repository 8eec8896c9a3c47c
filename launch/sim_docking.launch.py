# Copyright 2026 The clingers_perception authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Start the simulated docking rig: IR camera simulator, perception and reference guidance.

    ros2 launch clingers_perception sim_docking.launch.py rviz:=true

ir_camera_sim renders the target unit's LEDs and moves the chaser by cmd_vel (closed_loop, as in
config/sim_camera.yaml); perception_node estimates the target pose; docking_guidance steers the
chaser to DOCKED. All three talk over the relative names image, camera_info, target_pose,
target_range, detection_quality and cmd_vel in `namespace`. With rviz:=true, rviz2 shows the
raw and annotated images and the markers (config/clingers.rviz).

Every process this file starts uses the package's Fast DDS profile for large frames. Only
launch and launch_ros APIs present in Humble are used.
"""

from clingers_perception.dds_profile import profile_variables
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'clingers_perception'


def generate_launch_description():
    """Return the launch description: arguments, the DDS profile, the three nodes and rviz2."""
    config = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config'])
    namespace = LaunchConfiguration('namespace')
    arguments = [
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='namespace of the three nodes and of their relative topic names'),
        DeclareLaunchArgument(
            'sim_params_file', default_value=PathJoinSubstitution([config, 'sim_camera.yaml']),
            description='parameter file of ir_camera_sim: resolution, rate, calibration, '
                        'layout, mode (closed_loop or scripted), start pose, disturbances'),
        DeclareLaunchArgument(
            'perception_params_file',
            default_value=PathJoinSubstitution([config, 'perception.yaml']),
            description='parameter file of perception_node'),
        DeclareLaunchArgument(
            'guidance_params_file', default_value=PathJoinSubstitution([config, 'guidance.yaml']),
            description='parameter file of docking_guidance: capture envelope, gains, limits'),
        DeclareLaunchArgument(
            'rviz', default_value='false',
            description='true: also start rviz2 with config/clingers.rviz'),
    ]
    # Set before the nodes start, so it applies to every process started after it.
    profile_file = PathJoinSubstitution([config, 'fastdds.xml'])
    profile = [SetEnvironmentVariable(name, profile_file) for name in profile_variables()]
    camera = Node(
        package=PACKAGE, executable='ir_camera_sim', name='ir_camera_sim',
        namespace=namespace, parameters=[LaunchConfiguration('sim_params_file')],
        output='screen', emulate_tty=True)
    perception = Node(
        package=PACKAGE, executable='perception_node', name='clingers_perception',
        namespace=namespace, parameters=[LaunchConfiguration('perception_params_file')],
        output='screen', emulate_tty=True)
    guidance = Node(
        package=PACKAGE, executable='docking_guidance', name='docking_guidance',
        namespace=namespace, parameters=[LaunchConfiguration('guidance_params_file')],
        output='screen', emulate_tty=True)
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', namespace=namespace,
        arguments=['-d', PathJoinSubstitution([config, 'clingers.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')), output='screen')
    return LaunchDescription(arguments + profile + [camera, perception, guidance, rviz])
